"""Bots that reply to chat messages before a human does; see ``base.BaseBot``."""
