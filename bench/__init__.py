"""`qa bench`: speed, memory and quality figures for hoidap, printed and written, never asserted.

Sections: ``ingest``, ``backends``, ``query``, ``indexes``, ``answer``, ``server`` and ``startup``
(see ``bench/README.md``).
"""
