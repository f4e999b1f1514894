"""Governance trend report: warehouse queries, plotly figures, one self-contained HTML page."""
