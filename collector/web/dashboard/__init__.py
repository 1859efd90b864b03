"""Dashboard pages: overview, flow, funnels, sessions, rejected events, live updates."""
