"""The web layer: ingest doors (HTTP, WebSocket), pages, auth and hardening."""
