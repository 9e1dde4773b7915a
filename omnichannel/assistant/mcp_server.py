"""The MCP server: the read-only tools of ``mcp_tools`` for AI agents the shop runs.

``omnichannel_mcp`` serves it over stdio. The API key given at start must be active
and hold the ``mcp:read`` scope. It is checked again on every call, so revoking it
in the admin stops a running server. Every call, allowed or not, is written to the
``McpCall`` audit log.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from omnichannel.assistant import mcp_tools
from omnichannel.assistant.exceptions import AssistantError, InvalidRequest
from omnichannel.assistant.models import McpCall
from omnichannel.assistant.scopes import MCP_SCOPE
from omnichannel.authentication import find_api_key
from omnichannel.profiles.models import APIKey

logger = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True
)


class McpAccessDenied(AssistantError, PermissionError):
    """The API key is unknown, expired, revoked or lacks the MCP scope."""


def authenticate(raw_key: str) -> APIKey:
    """Return the active API key for ``raw_key`` that has ``mcp:read``."""
    scope = MCP_SCOPE
    key = find_api_key(raw_key or "")
    if key is None:
        raise McpAccessDenied("The API key is invalid, expired or revoked.")
    if scope not in key.scopes:
        raise McpAccessDenied(
            f"The API key {key.prefix} lacks the scope {scope!r}; add it to the key "
            "in the admin."
        )
    return key


def _rows(result: Any) -> int:
    if isinstance(result, dict):
        for name in (
            "customers",
            "segments",
            "members",
            "journeys",
            "arms",
            "experiments",
        ):
            if isinstance(result.get(name), list):
                return len(result[name])
        return 1
    return 0


def audited(
    key: APIKey, function: Callable[..., dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """Wrap a tool so that each call re-checks the key and is logged."""

    @functools.wraps(function)
    def tool(**arguments: Any) -> dict[str, Any]:
        close_old_connections()
        started = time.monotonic()
        call = McpCall(
            api_key_id=key.pk,
            key_prefix=key.prefix,
            tool=function.__name__,
            arguments=mcp_tools.plain(mcp_tools.masked_arguments(arguments)),
        )
        try:
            current = APIKey.objects.get(pk=key.pk)
            if not current.is_active() or MCP_SCOPE not in current.scopes:
                raise McpAccessDenied(
                    "The API key was revoked, expired or lost its scope."
                )
            result = function(**arguments)
        except (InvalidRequest, McpAccessDenied) as error:
            call.succeeded = False
            call.error = str(error)[:500]
            # A ToolError's text reaches the client, so the agent can correct itself.
            raise ToolError(str(error)) from error
        except Exception as error:
            logger.exception("MCP tool %s failed", function.__name__)
            call.succeeded = False
            call.error = f"{type(error).__name__}: {error}"[:500]
            raise
        finally:
            call.duration_ms = int((time.monotonic() - started) * 1000)
            call.save()
        call.result_rows = _rows(result)
        McpCall.objects.filter(pk=call.pk).update(result_rows=call.result_rows)
        return result

    return tool


def build_server(api_key: APIKey) -> MCPServer:
    """Return an MCP server whose tools act for ``key``."""
    server = MCPServer(
        name="omnichannel",
        instructions=(
            "Read-only access to the shop's customers, segments, journeys and A/B "
            "tests. Personal fields are masked unless the shop allows them."
        ),
    )

    @server.tool(annotations=READ_ONLY)
    def find_customers(query: str, limit: int = 10) -> dict[str, Any]:
        """Find customers by email address, phone number, name or customer id."""
        return audited(api_key, mcp_tools.find_customers)(query=query, limit=limit)

    @server.tool(annotations=READ_ONLY)
    def customer_360(customer_id: str) -> dict[str, Any]:
        """Return one customer's 360 view: value, orders, cart, segments, journeys,
        consents."""
        return audited(api_key, mcp_tools.customer_360)(customer_id=customer_id)

    @server.tool(annotations=READ_ONLY)
    def segment_sizes() -> dict[str, Any]:
        """List the active segments with their current sizes."""
        return audited(api_key, mcp_tools.segment_sizes)()

    @server.tool(annotations=READ_ONLY)
    def segment_members(slug: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Return a page of a segment's current members."""
        return audited(api_key, mcp_tools.segment_members)(
            slug=slug, limit=limit, offset=offset
        )

    @server.tool(annotations=READ_ONLY)
    def journey_results(days: int = 30) -> dict[str, Any]:
        """Return each journey's entrants, sends, clicks, orders, revenue and lift
        over the last ``days`` days."""
        return audited(api_key, mcp_tools.journey_results)(days=days)

    @server.tool(annotations=READ_ONLY)
    def experiment_results(key: str = "") -> dict[str, Any]:
        """Return an A/B test's results by its key, or list the tests without one."""
        return audited(api_key, mcp_tools.experiment_results)(key=key)

    return server
