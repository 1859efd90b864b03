"""Storage: engine and sessions, typed models, dialect helpers, sites and users."""
