"""Settings of the MCP server subprocess: the test settings on the database the test
prepared (a SQLite file, or the PostgreSQL test database by name)."""

import os

from tests.settings import *  # noqa: F403

if os.environ.get("OMNICHANNEL_MCP_SQLITE"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["OMNICHANNEL_MCP_SQLITE"],
        }
    }
elif os.environ.get("OMNICHANNEL_MCP_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["OMNICHANNEL_MCP_DB_NAME"]  # noqa: F405
