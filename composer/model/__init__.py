"""The application model: pydantic models, the YAML loader with positions, OAM import."""
