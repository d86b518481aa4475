"""Model artifacts: naming and layout, metadata, export (the only writer) and the registry (the only reader)."""
