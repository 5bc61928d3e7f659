"""SMART on FHIR: discovery, app registry, EHR and standalone launch, the authorization
server (code + PKCE, refresh, backend services) and the scopes the FHIR use cases enforce."""
