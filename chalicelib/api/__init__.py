"""The HTTP layer: one Chalice blueprint per resource, the authorizer, and the request context."""
