"""Operating the gateway: what the operator console shows (traffic, message log, health)."""
