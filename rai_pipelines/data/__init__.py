"""Data: reading sources, replaying production batches, validating and snapshotting dataset versions."""
