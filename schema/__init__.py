"""GraphQL: a Strawberry federation subgraph. Thin: every resolver calls resolvers/."""
