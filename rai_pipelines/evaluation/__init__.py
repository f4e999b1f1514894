"""Evaluation families. Each takes plain frames/arrays and returns metric rows:
family, metric, slice, value, ci_low, ci_high, n."""
