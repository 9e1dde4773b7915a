from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from omnichannel.journeys.models import Enrollment
from omnichannel.ops import health
from omnichannel.ops.models import Heartbeat
from omnichannel.ops.tasks import heartbeat
from tests.factories import ProfileFactory
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

URL = reverse("omnichannel:health")
WAIT_GRAPH = {
    "start": "wait",
    "steps": {"wait": {"type": "wait", "duration": "P1D"}},
}


def due_enrollment(age):
    journey = make_journey(WAIT_GRAPH)
    now = timezone.now()
    return Enrollment.objects.create(
        journey=journey,
        version=journey.current_version,
        profile=ProfileFactory(),
        current_step="wait",
        next_run_at=now - age,
    )


def test_health_anonymous_gets_status_only(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_head_probes(client):
    response = client.head(URL)

    assert response.status_code == 200


def test_health_staff_gets_details(staff_client):
    body = staff_client.get(URL).json()

    assert body["status"] == "ok"
    assert body["failed"] == []
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"] == {
        "status": "skipped",
        "reason": "task_always_eager",
    }
    assert body["checks"]["beat"]["status"] == "skipped"
    assert body["checks"]["engine"]["due_enrollments"] == 0


def test_health_token_gets_details(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert "checks" in response.json()


def test_health_wrong_token_rejected(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer not-the-token")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_health_token_without_setting_rejected(client):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer anything")

    assert response.status_code == 401
    assert "MONITORING_TOKEN" in response.json()["detail"]


def test_health_malformed_header_rejected(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 401
    assert "Bearer <token>" in response.json()["detail"]


def test_health_non_staff_user_gets_status_only(client, django_user_model):
    user = django_user_model.objects.create_user("shopper", password="password")
    client.force_login(user)

    assert client.get(URL).json() == {"status": "ok"}


def test_health_post_not_allowed(client):
    assert client.post(URL).status_code == 405


def test_health_backlog_fails_with_503(staff_client):
    due_enrollment(timedelta(minutes=10))

    response = staff_client.get(URL)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failed"] == ["engine"]
    assert body["checks"]["engine"]["reason"] == "backlog"
    assert body["checks"]["engine"]["due_enrollments"] == 1
    assert body["checks"]["engine"]["oldest_due_age_seconds"] >= 600


def test_health_recent_due_enrollment_is_ok(staff_client):
    due_enrollment(timedelta(seconds=5))

    body = staff_client.get(URL).json()

    assert body["status"] == "ok"
    assert body["checks"]["engine"]["due_enrollments"] == 1


def test_health_anonymous_sees_failure_status(client):
    due_enrollment(timedelta(hours=1))

    response = client.get(URL)

    assert response.status_code == 503
    assert response.json() == {"status": "fail"}


def test_heartbeat_missing_fails(celery_not_eager, settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "HEALTH_BROKER_TIMEOUT": timedelta(seconds=0.5),
    }
    celery_not_eager.conf.broker_url = "memory://"

    report = health.run_checks()

    assert report["checks"]["beat"]["status"] == "fail"
    assert report["checks"]["beat"]["reason"] == "no_heartbeat"
    assert "beat" in report["failed"]


def test_heartbeat_task_stamps_and_passes(celery_not_eager):
    celery_not_eager.conf.broker_url = "memory://"
    heartbeat.apply()

    stamp = Heartbeat.objects.get(name="beat")
    result = health.check_heartbeat(health.backlog())

    assert stamp.hostname
    assert result["status"] == "ok"
    assert result["age_seconds"] < 60


def test_heartbeat_stale_fails(celery_not_eager):
    Heartbeat.objects.create(name="beat", beat_at=timezone.now() - timedelta(minutes=5))

    result = health.check_heartbeat(health.backlog())

    assert result["status"] == "fail"
    assert result["reason"] == "stale"
    assert result["max_age_seconds"] == 120


def test_broker_unreachable_fails(celery_not_eager, settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "HEALTH_BROKER_TIMEOUT": timedelta(seconds=0.5),
    }
    previous = celery_not_eager.conf.broker_url
    # Nothing listens on port 1 of the loopback address.
    celery_not_eager.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        result = health.check_broker()
    finally:
        celery_not_eager.conf.broker_url = previous

    assert result["status"] == "fail"
    assert result["error"]


def test_broker_reachable_passes(celery_not_eager):
    import redis

    url = "redis://127.0.0.1:6379/5"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis does not answer at {url}")
    previous = celery_not_eager.conf.broker_url
    celery_not_eager.conf.broker_url = url
    try:
        result = health.check_broker()
    finally:
        celery_not_eager.conf.broker_url = previous

    assert result["status"] == "ok"
    assert result["latency_ms"] >= 0
