"""Ingest: loading files into cleaned articles and cutting them into passages."""
