"""Analytics: tables derived at ingest and the queries dashboards and reports read."""
