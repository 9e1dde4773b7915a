from datetime import timedelta

import pytest
from django.test import override_settings

from omnichannel.checks import check_settings

# Checks of other apps' models, which this module's settings do not change.
MODEL_CHECKS = {"omnichannel.W013", "omnichannel.W014"}
# Offers warn when no adapter creates codes; these settings name no adapter.
ADAPTER_CHECKS = {"omnichannel.W050"}


def ids(**settings):
    base = {"SITE_URL": "https://shop.example", "UNSUBSCRIBE_MAILTO": "u@shop.example"}
    with override_settings(OMNICHANNEL={**base, **settings}):
        return (
            {message.id for message in check_settings()} - MODEL_CHECKS - ADAPTER_CHECKS
        )


def test_checks_pass_with_test_settings():
    assert ids() == set()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"MAX_IDENTITIES_PER_KIND": 0}, "omnichannel.E010"),
        ({"MAX_IDENTITIES_PER_KIND": {"fax": 2}}, "omnichannel.E010"),
        ({"TRACK_PRODUCT_PATHS": ["(unclosed"]}, "omnichannel.E011"),
        ({"TRACK_CATEGORY_PATHS": "^/c/"}, "omnichannel.E011"),
        ({"EVENT_RETENTION": {"page_vewed": timedelta(days=1)}}, "omnichannel.E012"),
        ({"EVENT_RETENTION": {"page_viewed": 30}}, "omnichannel.E012"),
        ({"EVENT_RETENTION": []}, "omnichannel.E012"),
        ({"EVENT_RETENTION": {"order_placed": timedelta(days=30)}}, "omnichannel.W010"),
        ({"API_MAX_BATCH_SIZE": 0}, "omnichannel.E013"),
        ({"API_MAX_REQUEST_BYTES": "4MB"}, "omnichannel.E013"),
        ({"SITE_URL": "http://shop.example"}, "omnichannel.W011"),
        ({"UNSUBSCRIBE_MAILTO": None}, "omnichannel.W012"),
        ({"UNSUBSCRIBE_MAILTO": "unsubscribe"}, "omnichannel.E014"),
        ({"DOUBLE_OPT_IN_MAX_AGE": 7}, "omnichannel.E015"),
        ({"SMS_STOP_KEYWORDS": "STOP"}, "omnichannel.E016"),
        ({"SMS_START_KEYWORDS": ["STOP"]}, "omnichannel.E016"),
    ],
)
def test_checks_report_bad_settings(settings, expected):
    assert expected in ids(**settings)


def test_checks_accept_dict_identity_limit():
    assert ids(MAX_IDENTITIES_PER_KIND={"email": 2, "phone": 1}) == set()


def test_checks_allow_http_on_local_development_server():
    assert "omnichannel.W011" not in ids(SITE_URL="http://127.0.0.1:8000")


def test_checks_report_models_erasure_would_skip():
    from omnichannel.checks import _check_erasure_hooks
    from omnichannel.profiles.models import Event, Identity, Preference

    flagged = {message.obj for message in _check_erasure_hooks()}
    assert Event not in flagged
    assert Identity not in flagged
    assert Preference not in flagged
    for message in _check_erasure_hooks():
        assert message.id == "omnichannel.W014"
        assert "gdpr_erase" in message.hint
