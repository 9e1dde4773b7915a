"""The Meta client against the loopback Marketing API."""

import hashlib
import hmac

import pytest

from omnichannel.audiences.hashing import sha256_hex
from omnichannel.audiences.models import Audience
from omnichannel.audiences.platforms import get_platform
from omnichannel.exceptions import (
    PlatformAuthError,
    PlatformRateLimited,
    PlatformRequestRejected,
    PlatformUnavailable,
)
from tests.audiences.conftest import META_APP_SECRET, META_TOKEN
from tests.audiences.fakes import ScriptedResponse, meta_rate_limited, meta_unavailable

AUDIENCE = Audience(external_id="23851234567890123")


def email_row(n):
    return {"EMAIL": sha256_hex(f"customer{n}@example.com")}


def test_meta_add_request_shape(platforms, meta_server):
    rows = [
        {"EMAIL": sha256_hex("anna.example@example.com"), "PHONE": sha256_hex("1")},
        {"PHONE": sha256_hex("447700900123"), "FN": sha256_hex("zo\u00eb")},
    ]

    result = get_platform("meta").add_members(AUDIENCE, rows)

    assert meta_server.problems == []
    (request,) = meta_server.requests
    assert request["method"] == "POST"
    assert request["audience_id"] == "23851234567890123"
    assert request["payload"]["schema"] == ["EMAIL", "PHONE", "FN"]
    assert request["payload"]["data"] == [
        [rows[0]["EMAIL"], rows[0]["PHONE"], ""],
        ["", rows[1]["PHONE"], rows[1]["FN"]],
    ]
    assert request["form"]["access_token"] == META_TOKEN
    proof = hmac.new(
        META_APP_SECRET.encode(), META_TOKEN.encode(), hashlib.sha256
    ).hexdigest()
    assert request["form"]["appsecret_proof"] == proof
    assert result.received == 2
    assert result.invalid == {}
    assert len(result.request_ids) == 1


def test_meta_remove_uses_delete(platforms, meta_server):
    platform = get_platform("meta")
    rows = [email_row(1), email_row(2)]
    platform.add_members(AUDIENCE, rows)

    platform.remove_members(AUDIENCE, rows[:1])

    assert meta_server.problems == []
    assert [r["method"] for r in meta_server.requests] == ["POST", "DELETE"]
    assert meta_server.audience(AUDIENCE.external_id) == [rows[1]]


def test_meta_batch_above_limit_rejected(platforms, meta_server):
    rows = [email_row(n) for n in range(10_001)]

    with pytest.raises(ValueError, match="batch size 10000"):
        get_platform("meta").add_members(AUDIENCE, rows)
    assert meta_server.requests == []


def test_meta_full_batch_accepted(platforms, meta_server):
    rows = [email_row(n) for n in range(10_000)]

    result = get_platform("meta").add_members(AUDIENCE, rows)

    assert meta_server.problems == []
    assert meta_server.requests[0]["rows"] == 10_000
    assert result.received == 10_000


def test_meta_expired_token_not_retried(set_options, meta_server, waits):
    set_options("meta", ACCESS_TOKEN="expired-token")

    with pytest.raises(PlatformAuthError) as caught:
        get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.code == "190/463"
    assert "Renew the access token" in str(caught.value)
    assert "expired-token" not in str(caught.value)
    assert len(meta_server.requests) == 1
    assert waits == []


def test_meta_rate_limit_retried_after_named_wait(platforms, meta_server, waits):
    meta_server.respond_next(meta_rate_limited(minutes=1))

    result = get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert result.received == 1
    assert waits == [60.0]
    assert len(meta_server.requests) == 2
    assert meta_server.audience(AUDIENCE.external_id) == [email_row(1)]


def test_meta_rate_limit_longer_than_max_raised(platforms, meta_server, waits):
    meta_server.respond_next(meta_rate_limited(minutes=30))

    with pytest.raises(PlatformRateLimited) as caught:
        get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.retry_after == 1800.0
    assert waits == []
    assert len(meta_server.requests) == 1


def test_meta_transient_error_backs_off(platforms, meta_server, waits):
    meta_server.respond_next(meta_unavailable(), times=2)

    get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert len(meta_server.requests) == 3
    assert len(waits) == 2


def test_meta_transient_error_gives_up(platforms, meta_server, waits):
    meta_server.respond_next(meta_unavailable(), times=3)

    with pytest.raises(PlatformUnavailable) as caught:
        get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.code == "2"
    assert caught.value.in_doubt is False
    assert len(meta_server.requests) == 3


def test_meta_invalid_parameter_rejected(platforms, meta_server):
    meta_server.respond_next(
        ScriptedResponse(
            400,
            {
                "error": {
                    "message": "Invalid parameter",
                    "type": "OAuthException",
                    "code": 100,
                    "error_subcode": 1713230,
                    "error_user_title": "Audience Upload Blocked",
                }
            },
        )
    )

    with pytest.raises(PlatformRequestRejected) as caught:
        get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.code == "100/1713230"
    assert len(meta_server.requests) == 1


def test_meta_invalid_rows_named(platforms, meta_server):
    rows = [email_row(1), email_row(2), email_row(3)]
    meta_server.invalid_values.add(rows[1]["EMAIL"])

    result = get_platform("meta").add_members(AUDIENCE, rows)

    assert result.invalid == {1: "Invalid entry"}
    assert sorted(map(str, meta_server.audience(AUDIENCE.external_id))) == sorted(
        map(str, [rows[0], rows[2]])
    )


def test_meta_missing_token_names_settings(set_options, meta_server):
    set_options("meta", ACCESS_TOKEN=None)

    with pytest.raises(PlatformAuthError) as caught:
        get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert "OMNICHANNEL_META_ACCESS_TOKEN" in str(caught.value)
    assert meta_server.requests == []


def test_meta_token_from_environment(set_options, meta_server, monkeypatch):
    set_options("meta", ACCESS_TOKEN=None)
    monkeypatch.setenv("OMNICHANNEL_META_ACCESS_TOKEN", META_TOKEN)

    get_platform("meta").add_members(AUDIENCE, [email_row(1)])

    assert meta_server.requests[0]["form"]["access_token"] == META_TOKEN


def test_meta_token_never_logged(platforms, meta_server, all_logs):
    meta_server.respond_next(meta_unavailable())

    platform = get_platform("meta")
    platform.add_members(AUDIENCE, [email_row(1)])

    assert "retrying" in all_logs.text
    assert "/users" in all_logs.text
    assert META_TOKEN not in all_logs.text
    assert META_APP_SECRET not in all_logs.text
    assert META_TOKEN not in repr(platform.credential("ACCESS_TOKEN"))
    # The fake server records a problem if the token travels in the URL.
    assert meta_server.problems == []
