"""mpesa payment provider adapter; see the package modules."""
