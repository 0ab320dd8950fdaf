"""`qa bench`: speed, memory and quality figures for hoidap, printed and written, never asserted.

Sections: ``ingest``, ``backends``, ``query``, ``indexes`` and ``server`` (see ``bench/README.md``).
"""
