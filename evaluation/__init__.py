"""Measures of the model beyond the pipeline's own splits (the hand-written check set)."""
