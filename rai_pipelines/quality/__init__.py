"""Data quality: a suite's expectations run with Great Expectations 1.x on a dataset version."""
