"""Governance workflows on live evidence: signed approvals, incidents, reviews and control coverage."""
