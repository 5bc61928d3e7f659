"""Use cases and domain rules. No HTTP, SQL or provider SDKs: the world is reached via ports."""
