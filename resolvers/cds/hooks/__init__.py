"""CDS Hooks 2.0: discovery, invocation, cards and feedback (the knowledge base is in
``resolvers/cds/knowledge/``; the two exchange the types of ``resolvers/cds/model.py``)."""
