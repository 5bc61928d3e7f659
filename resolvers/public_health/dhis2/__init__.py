"""DHIS2: data value sets, import summaries, and the port to a configured instance."""
