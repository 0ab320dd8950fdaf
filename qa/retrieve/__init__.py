"""Retrieval: BM25 and dense candidates fused into ranked hits."""
