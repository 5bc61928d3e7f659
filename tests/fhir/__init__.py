"""FHIR R4 validator tests: the official R4 examples, generated mutants and the layer-2 rules."""
