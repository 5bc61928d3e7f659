"""The durable outbox: deliveries written with the business data, drained by a worker."""
