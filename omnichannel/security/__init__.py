"""Protections shared by every domain: rate limits and the outbound URL guard."""
