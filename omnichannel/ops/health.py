"""Health checks of a deployment: database, broker, beat heartbeat, engine backlog.

Each check returns a dict with ``status`` ("ok", "fail" or "skipped") and its
figures. ``run_checks`` runs them all; the deployment is healthy when none fails.
Broker and heartbeat are skipped when Celery runs tasks inline
(``task_always_eager``), as in the embedded setup, which has neither.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.utils import timezone

from omnichannel.conf import app_settings

logger = logging.getLogger(__name__)

OK = "ok"
FAIL = "fail"
SKIPPED = "skipped"


def _age(since: datetime | None, now: datetime) -> float | None:
    if since is None:
        return None
    return round(max((now - since).total_seconds(), 0.0), 3)


def backlog(now: datetime | None = None) -> dict[str, Any]:
    """Return the engine and outbox backlog and the heartbeat age, read now."""
    from omnichannel.channels.models import Delivery
    from omnichannel.channels.services import due_deliveries
    from omnichannel.journeys.models import Enrollment
    from omnichannel.ops.models import Heartbeat
    from omnichannel.ops.tasks import BEAT_HEARTBEAT

    now = now or timezone.now()
    due = Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE, next_run_at__lte=now
    ).aggregate(oldest=Min("next_run_at"), count=Count("pk"))
    beat_at = (
        Heartbeat.objects.filter(name=BEAT_HEARTBEAT)
        .values_list("beat_at", flat=True)
        .first()
    )
    return {
        "due_enrollments": due["count"],
        "oldest_due_enrollment_age_seconds": _age(due["oldest"], now),
        "due_deliveries": due_deliveries(now).count(),
        "sending_deliveries": Delivery.objects.filter(
            status=Delivery.Status.SENDING
        ).count(),
        "heartbeat_at": beat_at.isoformat() if beat_at else None,
        "heartbeat_age_seconds": _age(beat_at, now),
    }


def _celery_is_eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


def check_database() -> dict[str, Any]:
    """Run ``SELECT 1`` on the default database."""
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("health check: database failed: %s", error)
        return {"status": FAIL, "error": type(error).__name__}
    return {"status": OK, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_broker() -> dict[str, Any]:
    """Connect to Celery's broker once, waiting at most ``HEALTH_BROKER_TIMEOUT``."""
    from celery import current_app

    if _celery_is_eager():
        return {"status": SKIPPED, "reason": "task_always_eager"}
    timeout = app_settings.HEALTH_BROKER_TIMEOUT.total_seconds()
    started = time.monotonic()
    try:
        with current_app.connection_for_write() as broker:
            broker.connect_timeout = timeout
            broker.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:  # kombu raises transport-specific errors
        logger.warning("health check: broker failed: %s", error)
        return {"status": FAIL, "error": type(error).__name__}
    return {"status": OK, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_heartbeat(figures: dict[str, Any]) -> dict[str, Any]:
    """Fail when the beat heartbeat is missing or older than
    ``HEALTH_HEARTBEAT_MAX_AGE``."""
    if _celery_is_eager():
        return {"status": SKIPPED, "reason": "task_always_eager"}
    limit = app_settings.HEALTH_HEARTBEAT_MAX_AGE.total_seconds()
    age = figures["heartbeat_age_seconds"]
    result = {
        "at": figures["heartbeat_at"],
        "age_seconds": age,
        "max_age_seconds": limit,
    }
    if age is None:
        return {"status": FAIL, "reason": "no_heartbeat", **result}
    if age > limit:
        return {"status": FAIL, "reason": "stale", **result}
    return {"status": OK, **result}


def check_engine(figures: dict[str, Any]) -> dict[str, Any]:
    """Fail when an enrollment has been due longer than ``HEALTH_MAX_DUE_AGE``."""
    limit = app_settings.HEALTH_MAX_DUE_AGE.total_seconds()
    age = figures["oldest_due_enrollment_age_seconds"]
    result = {
        "due_enrollments": figures["due_enrollments"],
        "oldest_due_age_seconds": age,
        "max_due_age_seconds": limit,
        "due_deliveries": figures["due_deliveries"],
        "sending_deliveries": figures["sending_deliveries"],
    }
    if age is not None and age > limit:
        return {"status": FAIL, "reason": "backlog", **result}
    return {"status": OK, **result}


def run_checks() -> dict[str, Any]:
    """Run every check; return the overall status and each check's result."""
    checks: dict[str, Any] = {"database": check_database()}
    checks["broker"] = check_broker()
    if checks["database"]["status"] == OK:
        try:
            figures = backlog()
        except DatabaseError as error:
            logger.warning("health check: backlog query failed: %s", error)
            figures = None
    else:
        figures = None
    if figures is None:
        unavailable = {"status": FAIL, "reason": "database_unavailable"}
        checks["beat"] = unavailable
        checks["engine"] = unavailable
    else:
        checks["beat"] = check_heartbeat(figures)
        checks["engine"] = check_engine(figures)
    failed = [name for name, result in checks.items() if result["status"] == FAIL]
    return {
        "status": FAIL if failed else OK,
        "failed": failed,
        "checks": checks,
        "time": timezone.now().isoformat(),
    }
