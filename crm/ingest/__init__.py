"""Ingestion: the extract file format, parsing with control totals, and loading into the raw zone."""
