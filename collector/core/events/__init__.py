"""Telemetry V3 events: typed envelope, validation, error explanation, facts, JSON Schemas."""
