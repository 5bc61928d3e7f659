"""CDS Hooks adapters, built from settings (instances.py)."""
