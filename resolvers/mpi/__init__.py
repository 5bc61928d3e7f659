"""Master patient index: patient records and (later) matching."""
