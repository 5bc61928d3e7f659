"""DHIS2 Web API adapter."""
