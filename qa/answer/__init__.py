"""Answers: refusal, evidence, citation checks, the extractive and LLM answerers, follow-ups."""
