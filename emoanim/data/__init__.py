"""Training data: the synthetic emotional talking-face corpus and loaders for real datasets."""
