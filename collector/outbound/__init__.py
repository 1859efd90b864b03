"""Learning records going out: streamed exports and forwarding to an LRS or Caliper store."""
