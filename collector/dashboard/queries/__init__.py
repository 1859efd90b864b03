"""Dashboard queries: read the derived tables (never rescan raw events)."""
