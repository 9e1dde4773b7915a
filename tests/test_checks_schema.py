"""The system check for DRF's schema class, which the OpenAPI view depends on."""

from django.test import override_settings

from omnichannel.checks import check_settings


def _ids(messages):
    return [message.id for message in messages]


def test_schema_check_passes_with_spectacular():
    assert "omnichannel.W002" not in _ids(check_settings())


@override_settings(REST_FRAMEWORK={})
def test_schema_check_warns_on_drf_default():
    messages = [m for m in check_settings() if m.id == "omnichannel.W002"]

    assert len(messages) == 1
    assert "AutoSchema" in messages[0].msg
    assert "drf_spectacular.openapi.AutoSchema" in messages[0].hint


@override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "no.such.Schema"})
def test_schema_check_warns_on_bad_path():
    messages = [m for m in check_settings() if m.id == "omnichannel.W002"]

    assert len(messages) == 1
    assert "cannot be imported" in messages[0].msg
