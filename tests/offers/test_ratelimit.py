from django.test import override_settings

from omnichannel.offers.ratelimit import hit

LIMITS = {
    "OFFER_CODE_CHECKS_PER_IP": 3,
    "OFFER_CODE_CHECKS_PER_PROFILE": 2,
}
NOW = 1_800_000_000.0  # 600 s windows start at multiples of 600


@override_settings(OMNICHANNEL=LIMITS)
def test_hit_ip_limit_then_retry_after():
    results = [hit("192.0.2.1", None, now=NOW + n) for n in range(4)]

    assert results[:3] == [None, None, None]
    assert results[3].scope == "ip"
    assert results[3].retry_after == 597


@override_settings(OMNICHANNEL=LIMITS)
def test_hit_profile_limit_across_ips():
    assert hit("192.0.2.1", 7, now=NOW) is None
    assert hit("192.0.2.2", 7, now=NOW) is None

    rejected = hit("192.0.2.3", 7, now=NOW)

    assert rejected.scope == "profile"


@override_settings(OMNICHANNEL=LIMITS)
def test_hit_new_window_starts_again():
    for n in range(4):
        hit("192.0.2.1", None, now=NOW + n)

    assert hit("192.0.2.1", None, now=NOW + 600) is None


@override_settings(OMNICHANNEL=LIMITS)
def test_hit_counts_ips_apart():
    for n in range(3):
        hit("192.0.2.1", None, now=NOW + n)

    assert hit("192.0.2.9", None, now=NOW) is None
