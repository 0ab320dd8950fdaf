"""Vietnamese text: normalization, folding, segmentation, terms, acronyms and sentences."""
