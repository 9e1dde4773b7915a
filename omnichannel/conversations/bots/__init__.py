"""Bots that answer chat messages before a human does; see ``base.BaseBot``."""
