"""Evaluation harness: run eval sets through retrieval and the answerer, score and compare runs."""
