"""The health and metrics endpoints.

``health/`` returns the overall status to every caller (HTTP 200 when healthy, 503
when a check fails), so a load balancer needs no secret. The details of each
check, and ``metrics/``, need a staff session or the header
``Authorization: Bearer <MONITORING_TOKEN>``.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from omnichannel.conf import app_settings
from omnichannel.ops import health, metrics

BEARER = "bearer "


class TokenError(Exception):
    """The request carried an Authorization header that is not accepted."""


def is_monitor(request: HttpRequest) -> bool:
    """Return whether the request may read details: a staff user, or the right
    bearer token. Raise TokenError for a wrong or unusable token."""
    header = request.headers.get("Authorization", "")
    if header:
        if not header.lower().startswith(BEARER):
            raise TokenError(
                "The Authorization header must read 'Bearer <token>'.",
            )
        expected = app_settings.MONITORING_TOKEN
        if not expected:
            raise TokenError(
                "Token access is off: OMNICHANNEL['MONITORING_TOKEN'] is not set.",
            )
        given = header[len(BEARER) :].strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise TokenError("The monitoring token is invalid.")
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def _unauthorised(detail: str, code: str) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="omnichannel"'
    return response


@never_cache
@require_safe
def health_view(request: HttpRequest) -> HttpResponse:
    """Return the deployment's health as JSON, with details for monitors."""
    try:
        detailed = is_monitor(request)
    except TokenError as error:
        return _unauthorised(str(error), "invalid_token")
    report = health.run_checks()
    status = 503 if report["status"] == health.FAIL else 200
    if not detailed:
        report = {"status": report["status"]}
    return JsonResponse(report, status=status)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Return the Prometheus metrics of this machine and the shared gauges."""
    try:
        allowed = is_monitor(request)
    except TokenError as error:
        return _unauthorised(str(error), "invalid_token")
    if not allowed:
        return _unauthorised(
            "Metrics need a staff session or 'Authorization: Bearer <token>' with "
            "OMNICHANNEL['MONITORING_TOKEN'].",
            "not_authenticated",
        )
    return HttpResponse(metrics.render_latest(), content_type=metrics.CONTENT_TYPE)
