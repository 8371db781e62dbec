"""Evaluation of the emotion space and the generator."""
