"""The AI assistant: model client, copy variants, grounded chat bot, MCP server and
weekly insights. Every feature has a working path without a model."""
