"""Inbound webhooks: a durable inbox of verified provider events, processed by the outbox worker."""
