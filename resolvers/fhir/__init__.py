"""FHIR R4: validation rules, the versioned resource store and its use cases."""
