"""Public health reporting: DHIS2 periods, aggregates and the anonymised national dataset."""
