"""Raw SQL, one module per area; functions take and return plain dicts."""
