"""The HTTP service: the app factory, routes, auth, metrics, middleware and the analyst's page."""
