"""Outbound notifications: webhook subscriptions (endpoints, the event catalogue, fan-out,
signed delivery with retries, the delivery log). Later channels (WhatsApp, live
subscriptions) plug in beside them."""
