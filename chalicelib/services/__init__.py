"""What the API does, one module per resource; the routes in `chalicelib.api` call these."""
