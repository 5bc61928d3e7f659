"""Failed deliveries as an operator fixes them (the console's failures page)."""
