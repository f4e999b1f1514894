"""Audit evidence: model/system cards from live evidence, signed evidence bundles, and their verification."""
