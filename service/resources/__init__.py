"""HTTP layer: one package per resource, each with its schemas and routes."""
