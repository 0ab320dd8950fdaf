"""Embedding models used by hoidap."""
