"""`make bench`: reproducible speed and memory figures for the classifier, in process and over HTTP."""
