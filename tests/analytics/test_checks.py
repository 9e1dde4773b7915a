from datetime import timedelta

from django.test import override_settings

from omnichannel.checks import check_settings


def ids(**settings):
    with override_settings(OMNICHANNEL=settings):
        return [message.id for message in check_settings()]


def test_checks_defaults_clean():
    assert not [i for i in ids() if i.startswith("omnichannel.") and "07" in i]


def test_checks_window_not_timedelta():
    assert "omnichannel.E070" in ids(ATTRIBUTION_WINDOW=5)


def test_checks_window_negative():
    assert "omnichannel.E070" in ids(CART_RECOVERY_WINDOW=timedelta(days=-1))


def test_checks_cache_seconds():
    assert "omnichannel.E071" in ids(ANALYTICS_CACHE_SECONDS="600")
    assert "omnichannel.E071" not in ids(ANALYTICS_CACHE_SECONDS=0)


def test_checks_lapse_shorter_warns():
    assert "omnichannel.W070" in ids(
        LIFECYCLE_DROP_OFF_AFTER=timedelta(days=60),
        LIFECYCLE_LAPSE_AFTER=timedelta(days=30),
    )
