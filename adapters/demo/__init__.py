"""Demonstration traffic for a running gateway (`cari-gateway demo-traffic`)."""
