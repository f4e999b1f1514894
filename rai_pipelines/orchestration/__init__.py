"""The thin Dagster layer: wires catalog entries to the plain-Python engines."""
