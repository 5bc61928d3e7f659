"""Syndromic surveillance (issue 14, use case 3)."""
