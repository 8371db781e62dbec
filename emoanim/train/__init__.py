"""Training: each model of EmoAnim from a corpus (``python -m emoanim train ...``)."""
