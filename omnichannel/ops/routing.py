"""Celery queues that keep sending apart from segment and model work.

Use ``task_routes()`` as ``CELERY_TASK_ROUTES`` and start workers per queue, for
example ``celery -A proj worker -Q omnichannel-send``. A long segment rebuild or a
model fit then never delays a message that is due now.
"""

from __future__ import annotations

SEND_QUEUE = "omnichannel-send"
SEGMENTS_QUEUE = "omnichannel-segments"
MODELS_QUEUE = "omnichannel-models"

#: Task name patterns (celery glob syntax) of each kind of work.
SEND_TASKS = (
    "omnichannel.journeys.*",
    "omnichannel.channels.*",
    "omnichannel.conversations.*",
    "omnichannel.ops.*",
)
SEGMENT_TASKS = (
    "omnichannel.segments.*",
    "omnichannel.profiles.*",
    "omnichannel.integrations.*",
    "omnichannel.audiences.*",
    "omnichannel.offers.*",
    "omnichannel.experiments.*",
)
MODEL_TASKS = (
    "omnichannel.predictions.*",
    "omnichannel.assistant.*",
)


def task_routes(
    send: str = SEND_QUEUE,
    segments: str = SEGMENTS_QUEUE,
    models: str = MODELS_QUEUE,
) -> dict[str, dict[str, str]]:
    """Return ``CELERY_TASK_ROUTES`` sending each kind of task to its queue."""
    routes: dict[str, dict[str, str]] = {}
    for patterns, queue in (
        (SEND_TASKS, send),
        (SEGMENT_TASKS, segments),
        (MODEL_TASKS, models),
    ):
        for pattern in patterns:
            routes[pattern] = {"queue": queue}
    return routes
