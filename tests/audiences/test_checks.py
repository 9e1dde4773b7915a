"""System checks of the ad platform settings."""

from datetime import timedelta

from omnichannel.checks import check_audience_settings
from tests import settings as test_settings

META = "omnichannel.audiences.platforms.meta.MetaPlatform"
GOOGLE = "omnichannel.audiences.platforms.google.GooglePlatform"


def ids(settings, **values):
    settings.OMNICHANNEL = {**test_settings.OMNICHANNEL, **values}
    return [message.id for message in check_audience_settings()]


def test_checks_default_clean(settings):
    assert ids(settings) == []


def test_checks_configured_platforms_clean(settings):
    platforms = {
        "meta": {"BACKEND": META, "ACCESS_TOKEN": "token"},
        "google": {
            "BACKEND": GOOGLE,
            "ACCESS_TOKEN": "token",
            "CUSTOMER_MATCH_TERMS_ACCEPTED": True,
        },
    }

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == []


def test_checks_platforms_not_dict(settings):
    assert ids(settings, AUDIENCE_PLATFORMS=["meta"]) == ["omnichannel.E080"]


def test_checks_bad_key(settings):
    platforms = {"meta ads": {"BACKEND": META, "ACCESS_TOKEN": "t"}}

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == ["omnichannel.E080"]


def test_checks_backend_problems(settings):
    platforms = {
        "missing": {"ACCESS_TOKEN": "t"},
        "typo": {"BACKEND": "omnichannel.audiences.platforms.meta.MetaPlatfrom"},
        "wrong": {"BACKEND": "omnichannel.conf.AppSettings"},
        "loose": "not a dict",
    }

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == ["omnichannel.E081"] * 4


def test_checks_batch_size_over_limit(settings):
    platforms = {"meta": {"BACKEND": META, "ACCESS_TOKEN": "t", "BATCH_SIZE": 20_000}}

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == ["omnichannel.E082"]


def test_checks_base_url(settings):
    bad = {"meta": {"BACKEND": META, "ACCESS_TOKEN": "t", "BASE_URL": "graph"}}
    plain = {
        "meta": {"BACKEND": META, "ACCESS_TOKEN": "t", "BASE_URL": "http://proxy:80"}
    }
    loopback = {
        "meta": {"BACKEND": META, "ACCESS_TOKEN": "t", "BASE_URL": "http://127.0.0.1:9"}
    }

    assert ids(settings, AUDIENCE_PLATFORMS=bad) == ["omnichannel.E083"]
    assert ids(settings, AUDIENCE_PLATFORMS=plain) == ["omnichannel.W082"]
    assert ids(settings, AUDIENCE_PLATFORMS=loopback) == []


def test_checks_timing_settings(settings):
    assert ids(settings, AUDIENCE_SYNC_INTERVAL=3600) == ["omnichannel.E084"]
    assert ids(settings, AUDIENCE_RETRY_BASE_DELAY=timedelta(seconds=-1)) == [
        "omnichannel.E084"
    ]
    assert ids(settings, AUDIENCE_SYNC_DELAY_AFTER_CHANGE=15) == ["omnichannel.E084"]
    assert ids(settings, AUDIENCE_SYNC_DELAY_AFTER_CHANGE=None) == []
    assert ids(settings, AUDIENCE_RETRY_MAX_ATTEMPTS=0) == ["omnichannel.E084"]
    assert ids(settings, AUDIENCE_RETRY_MAX_ATTEMPTS=True) == ["omnichannel.E084"]


def test_checks_missing_credentials_warned(settings, monkeypatch):
    monkeypatch.delenv("OMNICHANNEL_META_ACCESS_TOKEN", raising=False)
    platforms = {"meta": {"BACKEND": META, "APP_SECRET": "only-the-secret"}}

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == ["omnichannel.W080"]

    monkeypatch.setenv("OMNICHANNEL_META_ACCESS_TOKEN", "from-env")
    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == []


def test_checks_credentials_from_named_variable(settings, monkeypatch):
    monkeypatch.setenv("SHOP_META_TOKEN", "from-env")
    platforms = {"meta": {"BACKEND": META, "ACCESS_TOKEN_ENV": "SHOP_META_TOKEN"}}

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == []


def test_checks_google_terms_and_key_file(settings, tmp_path):
    platforms = {
        "google": {
            "BACKEND": GOOGLE,
            "SERVICE_ACCOUNT_FILE": str(tmp_path / "missing.json"),
        }
    }

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == [
        "omnichannel.W081",
        "omnichannel.E085",
    ]


def test_checks_unknown_option_warned(settings):
    platforms = {"meta": {"BACKEND": META, "ACCESS_TOKEN": "t", "TOKEN": "x"}}

    assert ids(settings, AUDIENCE_PLATFORMS=platforms) == ["omnichannel.W083"]


def test_checks_messages_hide_credentials(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_PLATFORMS": {
            "meta": {"BACKEND": META, "ACCESS_TOKEN": "secret-token", "X": 1}
        },
    }

    text = " ".join(f"{m.msg} {m.hint}" for m in check_audience_settings())

    assert "secret-token" not in text
