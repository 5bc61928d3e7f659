"""REST routes for integrators, SMART apps and webhook senders. One module per route family."""
