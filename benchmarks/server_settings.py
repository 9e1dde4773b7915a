"""Settings of the benchmark's server process: the test settings with persistent
database connections, as a production server runs (``CONN_MAX_AGE``), so that each
request does not pay for a new PostgreSQL connection."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 600
