"""Models: the demo's training recipes and digest-verified access to the MLflow registry."""
