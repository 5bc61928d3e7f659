"""Signature verifiers for inbound webhooks, one module per provider scheme."""
