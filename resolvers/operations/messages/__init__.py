"""The message log: every inbound message (HL7 by HTTP, MLLP or GraphQL, provider webhooks),
searchable, each opening to its raw content, what it became and the answer it got."""
