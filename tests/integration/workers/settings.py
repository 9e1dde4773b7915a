"""Settings of the Celery worker and beat processes the integration tests start.

They point at a real PostgreSQL database that the tests create (workers cannot see
a test transaction) and at a Redis broker, both given in environment variables.
Timings are shortened so faults heal within seconds.
"""

import os
from datetime import timedelta

import dj_database_url

from omnichannel.ops.routing import task_routes
from omnichannel.ops.schedule import beat_schedule
from tests.settings import *  # noqa: F403
from tests.settings import OMNICHANNEL

DATABASES = {
    "default": dj_database_url.parse(
        os.environ["OMNICHANNEL_IT_DATABASE_URL"],
        conn_max_age=60,
        conn_health_checks=True,
    )
}
DATABASES["default"]["OPTIONS"] = {"application_name": "omnichannel-it-worker"}

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = os.environ["OMNICHANNEL_IT_BROKER_URL"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = task_routes()
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = beat_schedule(
    tick_every=timedelta(seconds=1),
    sweep_every=timedelta(seconds=5),
    heartbeat_every=timedelta(seconds=1),
)
CELERY_TIMEZONE = "UTC"

OMNICHANNEL = {
    **OMNICHANNEL,
    "CHANNEL_BACKENDS": {
        "onsite": {"BACKEND": "tests.integration.workers.recording.RecordingBackend"}
    },
    "SEND_PAUSES": [],
    "DELIVERY_PENDING_GRACE": timedelta(seconds=30),
    "DELIVERY_SENDING_TIMEOUT": timedelta(seconds=4),
    "ENGINE_BATCH_SIZE": 100,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"ids": {"()": "omnichannel.ops.logcontext.LogIdsFilter"}},
    "formatters": {"json": {"()": "omnichannel.ops.logcontext.JSONFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "filters": ["ids"],
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
