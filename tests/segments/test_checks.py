from datetime import timedelta

import pytest
from django.core import checks
from django.test import override_settings

from omnichannel.segments.models import Segment

pytestmark = pytest.mark.django_db


def run_checks(**kwargs):
    return {message.id for message in checks.run_checks(**kwargs)}


@override_settings(OMNICHANNEL={"SEGMENT_PREVIEW_TIMEOUT": 5})
def test_check_preview_timeout_type():
    assert "omnichannel.E020" in run_checks()


@override_settings(OMNICHANNEL={"SEGMENT_PREVIEW_TIMEOUT": timedelta(seconds=2)})
def test_check_preview_timeout_accepts_timedelta():
    assert "omnichannel.E020" not in run_checks()


def test_check_stored_rule_invalid():
    Segment.objects.create(name="A", slug="a")
    Segment.objects.filter(slug="a").update(rules={"type": "gone"})
    found = run_checks(databases=["default"], include_deployment_checks=False)
    assert "omnichannel.E021" in found


def test_check_inactive_reference_and_missing_schedule():
    Segment.objects.create(name="Old", slug="old", is_active=False)
    Segment.objects.create(
        name="Lapsed",
        slug="lapsed",
        rules={
            "all": [
                {"type": "segment", "segment": "old"},
                {
                    "type": "aggregate",
                    "measure": "days_since_last_order",
                    "op": "gt",
                    "value": 30,
                },
            ]
        },
    )
    found = run_checks(databases=["default"])
    assert "omnichannel.W020" in found
    assert "omnichannel.W021" in found
