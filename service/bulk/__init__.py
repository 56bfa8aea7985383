"""`pakrel-bulk`: labels an archive of articles with the same model and output as the API."""
