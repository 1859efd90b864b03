"""Ingest: the one pipeline every door calls, its group-commit writer and its phases."""
