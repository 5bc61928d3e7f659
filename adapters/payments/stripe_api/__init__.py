"""Stripe API client (refunds) on the official ``stripe`` SDK and the app's guarded HTTP client."""
