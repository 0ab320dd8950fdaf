"""Core: the typed values passed between stages, the protocols, errors and settings."""
