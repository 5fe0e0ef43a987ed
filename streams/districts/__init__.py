"""Bundled district files (JSON, format in docs/DISTRICT_FORMAT.md) and their generators."""
