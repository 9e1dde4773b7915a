from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

DEFAULT_KEY_VARIABLE = "OMNICHANNEL_MCP_API_KEY"


class Command(BaseCommand):
    help = (
        "Serve the read-only MCP tools (customers, segments, journeys, A/B tests) over "
        "stdio. The API key, with the mcp:read scope, is read from an environment "
        "variable so that it does not show in the process list."
    )
    # stdout carries the MCP protocol alone, so check messages must not go there.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--api-key-env",
            default=DEFAULT_KEY_VARIABLE,
            help=f"Environment variable that holds the API key (default "
            f"{DEFAULT_KEY_VARIABLE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from omnichannel.assistant.mcp_server import (
            McpAccessDenied,
            authenticate,
            build_server,
        )

        variable = options["api_key_env"]
        raw_key = os.environ.get(variable, "")
        if not raw_key:
            raise CommandError(
                f"The environment variable {variable} is empty. Create an API key "
                "with the mcp:read scope in the admin and pass it in that variable."
            )
        try:
            key = authenticate(raw_key)
        except McpAccessDenied as error:
            raise CommandError(str(error)) from None
        self.stderr.write(f"Serving MCP over stdio for API key {key.prefix}.")
        build_server(key).run("stdio")
