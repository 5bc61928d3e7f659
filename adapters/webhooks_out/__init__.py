"""Outbound webhook delivery: the Standard Webhooks signer, the HTTP sender on the shared
guarded client, and the endpoint URL guard."""
