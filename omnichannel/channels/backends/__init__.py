"""Channel backends, one module per channel beside ``base``."""
