"""The domain, free of Flask and SQLAlchemy: Telemetry V3 events and their mappings."""
