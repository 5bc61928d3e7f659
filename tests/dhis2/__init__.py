"""DHIS2: the Web API client against a contract-faithful stand-in."""
