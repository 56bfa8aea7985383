"""What the HTTP API and the bulk command promise alike: request and response bodies, the
JSON form of a classification, size limits and the error format."""
