"""Index: building a search index from passages, BM25, the dense backend and the store on disk."""
