"""Frozen text encoders for emotion descriptions (see ``emoanim.text.encoder``)."""
