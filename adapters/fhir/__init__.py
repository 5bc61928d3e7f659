"""FHIR R4 adapters: validation against the R4 definitions (fhir.resources R4B models, corrected
to R4) behind the ``ResourceValidator`` port."""
