"""The audit trail: who read or wrote which patient data, when, and with what outcome."""
