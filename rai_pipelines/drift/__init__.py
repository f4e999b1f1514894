"""Drift: Evidently-compatible per-column tests computed on full data, and the dataset verdict."""
