"""Evaluation: the evaluator network, feature extractors, and metrics as pure functions over features."""
