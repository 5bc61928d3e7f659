"""Laboratory results: HL7v2 ORU^R01 ingest, results, panic values."""
