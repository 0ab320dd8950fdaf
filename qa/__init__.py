"""hoidap: Vietnamese-first question answering over articles, with exact citations."""

__version__ = "0.1.0"
