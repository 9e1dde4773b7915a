"""What each step type does when an enrollment reaches it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.mail import send_mail
from django.db import transaction

from omnichannel.journeys.conditions import evaluate_condition
from omnichannel.journeys.engine import _log, _wait_due, split_bucket
from omnichannel.journeys.graph import parse_step_duration
from omnichannel.journeys.models import Enrollment, StepRun
from omnichannel.profiles.models import Event

logger = logging.getLogger(__name__)


@dataclass
class StepResult:
    """What the engine does next: wait, go on to a step, or end the run."""

    next_step: str | None = None
    wait_until: datetime | None = None
    finish: tuple[str, str] | None = None


def execute(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    handler = HANDLERS[step["type"]]
    return handler(step, key, enrollment, now)


def _wait(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    due = _wait_due(step, enrollment, enrollment.profile)
    if due > now:
        if enrollment.next_run_at is None or enrollment.next_run_at <= now:
            _log(
                enrollment,
                StepRun.Outcome.WAITING,
                at=now,
                step_type="wait",
                details={"until": due.isoformat()},
            )
        return StepResult(wait_until=due)
    return StepResult(next_step=step.get("next"))


def _wait_for_event(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    events = Event.objects.filter(
        profile_id=enrollment.profile_id,
        name=step["event"],
        occurred_at__gte=enrollment.step_entered_at,
        occurred_at__lte=now,
    )
    if step.get("same_object", True) and enrollment.object_id:
        events = events.filter(
            object_type=enrollment.object_type, object_id=enrollment.object_id
        )
    if events.exists():
        _log(
            enrollment,
            StepRun.Outcome.DONE,
            at=now,
            step_type="wait_for_event",
            reason="event",
        )
        return StepResult(next_step=step.get("next"))
    deadline = enrollment.step_entered_at + parse_step_duration(
        step["timeout"], "timeout"
    )
    if now >= deadline:
        _log(
            enrollment,
            StepRun.Outcome.DONE,
            at=now,
            step_type="wait_for_event",
            reason="timeout",
        )
        return StepResult(next_step=step.get("timeout_next"))
    return StepResult(wait_until=deadline)


def _branch(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    matched = evaluate_condition(step["condition"], enrollment, now)
    _log(
        enrollment,
        StepRun.Outcome.DONE,
        at=now,
        step_type="branch",
        reason="yes" if matched else "no",
    )
    return StepResult(next_step=step["yes"] if matched else step["no"])


def _split(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    variants = step["variants"]
    control = step.get("control_weight", 0)
    total = sum(variant["weight"] for variant in variants) + control
    point = split_bucket(enrollment.journey.slug, key, enrollment.profile) * total
    chosen = None
    for variant in variants:
        if point < variant["weight"]:
            chosen = variant
            break
        point -= variant["weight"]
    splits = enrollment.context.setdefault("splits", {})
    if chosen is None:
        splits[key] = "control"
        _log(
            enrollment,
            StepRun.Outcome.DONE,
            at=now,
            step_type="split",
            reason="control",
        )
        return StepResult(finish=(Enrollment.Status.EXITED, "control_group"))
    splits[key] = chosen["key"]
    _log(
        enrollment,
        StepRun.Outcome.DONE,
        at=now,
        step_type="split",
        reason=chosen["key"],
    )
    return StepResult(next_step=chosen.get("next"))


def _send(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    from omnichannel.journeys.sending import send_step

    return send_step(
        step,
        key,
        enrollment,
        now,
        channel=step["channel"],
        template_slug=step["template"],
    )


def _best_channel(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    from omnichannel.journeys.sending import choose_channel, send_step

    channel = choose_channel(enrollment.profile, list(step["templates"]), now)
    if channel is None:
        _log(
            enrollment,
            StepRun.Outcome.SKIPPED,
            at=now,
            step_type="best_channel",
            reason="no_consent",
        )
        return StepResult(next_step=step.get("next"))
    return send_step(
        step,
        key,
        enrollment,
        now,
        channel=channel,
        template_slug=step["templates"][channel],
    )


def _update_profile(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    profile = enrollment.profile
    profile.refresh_from_db(fields=["attributes", "tags"])
    profile.attributes = {**profile.attributes, **step.get("attributes", {})}
    tags = set(profile.tags) | set(step.get("add_tags", []))
    profile.tags = sorted(tags - set(step.get("remove_tags", [])))
    profile.save(update_fields=["attributes", "tags", "updated_at"])
    _log(enrollment, StepRun.Outcome.DONE, at=now, step_type="update_profile")
    return StepResult(next_step=step.get("next"))


def _notify_staff(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    if "condition" in step and not evaluate_condition(
        step["condition"], enrollment, now
    ):
        _log(
            enrollment,
            StepRun.Outcome.SKIPPED,
            at=now,
            step_type="notify_staff",
            reason="condition_false",
        )
        return StepResult(next_step=step.get("next"))
    recipients = step.get("to") or _staff_addresses()
    profile = enrollment.profile
    body = step.get("message", "") + (
        f"\n\nCustomer: {profile} (profile {profile.pk}), lifetime value "
        f"{profile.total_spent} {profile.currency}, {profile.order_count} orders."
    )
    subject = step["subject"]
    if recipients:
        transaction.on_commit(
            lambda: send_mail(subject, body, None, recipients, fail_silently=False)
        )
    _log(
        enrollment,
        StepRun.Outcome.DONE,
        at=now,
        step_type="notify_staff",
        details={"recipients": len(recipients)},
    )
    return StepResult(next_step=step.get("next"))


def _staff_addresses() -> list[str]:
    from django.conf import settings

    from omnichannel.conf import app_settings

    configured = list(app_settings.STAFF_NOTIFICATION_EMAILS)
    return configured or [email for _name, email in getattr(settings, "MANAGERS", [])]


def _webhook(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    from omnichannel.journeys.sending import send_step

    return send_step(
        step,
        key,
        enrollment,
        now,
        channel="webhook",
        template_slug=step.get("template", ""),
    )


def _exit(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> StepResult:
    return StepResult(
        finish=(Enrollment.Status.COMPLETED, step.get("reason", "exit_step"))
    )


HANDLERS = {
    "wait": _wait,
    "wait_for_event": _wait_for_event,
    "branch": _branch,
    "split": _split,
    "send": _send,
    "best_channel": _best_channel,
    "update_profile": _update_profile,
    "notify_staff": _notify_staff,
    "webhook": _webhook,
    "exit": _exit,
}
