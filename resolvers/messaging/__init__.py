"""Patient and clinician messaging (WhatsApp Cloud API): templates, consent, the 24-hour
window, scheduled sends and replies."""
