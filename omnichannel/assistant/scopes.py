"""The API key scope of the MCP server, registered when the app starts."""

from django.utils.translation import gettext_lazy as _

from omnichannel.authentication import register_scope

MCP_SCOPE = "mcp:read"

register_scope(
    MCP_SCOPE, _("Read customers, segments, journeys and A/B tests over MCP.")
)
