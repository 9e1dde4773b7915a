"""The Google client against the loopback Data Manager API and token endpoint."""

import json

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
from tests.audiences.fakes import (
    google_permission_denied,
    google_rate_limited,
    google_unavailable,
)

AUDIENCE = Audience(external_id="8123456789", account_id="123-456-7890")


def email_row(n):
    return {"emailAddress": sha256_hex(f"customer{n}@example.com")}


def test_google_ingest_request_shape(platforms, google_server):
    rows = [
        {
            "emailAddress": sha256_hex("cloudysanfrancisco@gmail.com"),
            "phoneNumber": sha256_hex("+447700900123"),
        },
        {"phoneNumber": sha256_hex("+18005550100")},
    ]

    result = get_platform("google").add_members(AUDIENCE, rows)

    assert google_server.problems == []
    (request,) = google_server.requests
    body = request["body"]
    assert request["method"] == "ingest"
    assert body["destinations"] == [
        {
            "operatingAccount": {
                "accountType": "GOOGLE_ADS",
                "accountId": "1234567890",
            },
            "productDestinationId": "8123456789",
        }
    ]
    assert body["audienceMembers"] == [
        {
            "userData": {
                "userIdentifiers": [
                    {"emailAddress": rows[0]["emailAddress"]},
                    {"phoneNumber": rows[0]["phoneNumber"]},
                ]
            }
        },
        {"userData": {"userIdentifiers": [{"phoneNumber": rows[1]["phoneNumber"]}]}},
    ]
    assert body["encoding"] == "HEX"
    assert body["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }
    assert body["termsOfService"] == {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
    assert request["authorization"] == "Bearer issued-token-1"
    assert result.received == 2
    assert len(result.request_ids) == 1


def test_google_remove_request_shape(platforms, google_server):
    platform = get_platform("google")
    rows = [email_row(1), email_row(2)]
    platform.add_members(AUDIENCE, rows)

    platform.remove_members(AUDIENCE, rows[:1])

    assert google_server.problems == []
    remove = google_server.requests[1]
    assert remove["method"] == "remove"
    assert set(remove["body"]) == {"destinations", "audienceMembers", "encoding"}
    assert google_server.audience("8123456789") == [rows[1]]


def test_google_login_account_for_manager(set_options, google_server):
    set_options("google", LOGIN_ACCOUNT_ID="999-888-7777")

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    destination = google_server.requests[0]["body"]["destinations"][0]
    assert destination["loginAccount"] == {
        "accountType": "GOOGLE_ADS",
        "accountId": "9998887777",
    }


def test_google_batch_limit(platforms, google_server):
    platform = get_platform("google")

    with pytest.raises(ValueError, match="batch size 10000"):
        platform.add_members(AUDIENCE, [email_row(n) for n in range(10_001)])
    result = platform.add_members(AUDIENCE, [email_row(n) for n in range(10_000)])

    assert result.received == 10_000
    assert [r["members"] for r in google_server.requests] == [10_000]
    assert google_server.problems == []


def test_google_token_reused_then_renewed(platforms, google_server):
    platform = get_platform("google")
    platform.add_members(AUDIENCE, [email_row(1)])
    platform.add_members(AUDIENCE, [email_row(2)])
    assert google_server.issued == 1

    google_server.expire_tokens()
    platform.add_members(AUDIENCE, [email_row(3)])

    assert google_server.issued == 2
    assert [r["authorization"] for r in google_server.requests] == [
        "Bearer issued-token-1",
        "Bearer issued-token-1",
        "Bearer issued-token-1",
        "Bearer issued-token-2",
    ]
    assert len(google_server.audience("8123456789")) == 3


def test_google_static_token_expired(set_options, google_server, waits):
    set_options("google", ACCESS_TOKEN="revoked-token")

    with pytest.raises(PlatformAuthError) as caught:
        get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.code == "UNAUTHENTICATED"
    assert "revoked-token" not in str(caught.value)
    assert len(google_server.requests) == 1
    assert waits == []


def test_google_static_token_accepted(set_options, google_server):
    set_options("google", ACCESS_TOKEN="static-google-token")

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert google_server.issued == 0
    assert google_server.requests[0]["authorization"] == "Bearer static-google-token"


def test_google_wrong_key_rejected_by_token_endpoint(
    set_options, google_server, service_account
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    set_options("google", SERVICE_ACCOUNT_INFO={**service_account, "private_key": pem})

    with pytest.raises(PlatformAuthError, match="token endpoint rejected"):
        get_platform("google").add_members(AUDIENCE, [email_row(1)])
    assert google_server.requests == []


def test_google_key_file_from_environment(
    set_options, google_server, service_account, tmp_path, monkeypatch
):
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(service_account))
    set_options("google", SERVICE_ACCOUNT_INFO=None)
    monkeypatch.setenv("OMNICHANNEL_GOOGLE_SERVICE_ACCOUNT_FILE", str(key_file))

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert google_server.issued == 1


def test_google_no_credentials_names_options(set_options, google_server):
    set_options("google", SERVICE_ACCOUNT_INFO=None)

    with pytest.raises(PlatformAuthError) as caught:
        get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert "SERVICE_ACCOUNT_FILE" in str(caught.value)
    assert "OMNICHANNEL_GOOGLE_SERVICE_ACCOUNT_FILE" in str(caught.value)


def test_google_malformed_key_rejected(set_options, google_server):
    set_options("google", SERVICE_ACCOUNT_INFO='{"client_email": "x@example.com"}')

    with pytest.raises(PlatformAuthError, match="private_key"):
        get_platform("google").add_members(AUDIENCE, [email_row(1)])


def test_google_rate_limit_retried(platforms, google_server, waits):
    google_server.respond_next(google_rate_limited(seconds=7))

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert waits == [7.0]
    assert len(google_server.audience("8123456789")) == 1


def test_google_rate_limit_exhausted(platforms, google_server, waits):
    google_server.respond_next(google_rate_limited(seconds=1), times=3)

    with pytest.raises(PlatformRateLimited) as caught:
        get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert waits == [1.0, 1.0]


def test_google_unavailable_backs_off(platforms, google_server, waits, settings):
    google_server.respond_next(google_unavailable(), times=2)

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert len(waits) == 2
    assert len(google_server.requests) == 3


def test_google_unavailable_gives_up(platforms, google_server):
    google_server.respond_next(google_unavailable(), times=3)

    with pytest.raises(PlatformUnavailable):
        get_platform("google").add_members(AUDIENCE, [email_row(1)])


def test_google_permission_denied(platforms, google_server):
    google_server.respond_next(google_permission_denied())

    with pytest.raises(PlatformAuthError, match="LOGIN_ACCOUNT_ID"):
        get_platform("google").add_members(AUDIENCE, [email_row(1)])


def test_google_invalid_members_dropped_and_rest_sent(platforms, google_server):
    rows = [email_row(n) for n in range(5)]
    google_server.invalid_values |= {rows[1]["emailAddress"], rows[3]["emailAddress"]}

    result = get_platform("google").add_members(AUDIENCE, rows)

    assert set(result.invalid) == {1, 3}
    assert "SHA-256" in result.invalid[1]
    assert result.received == 3
    assert [r["members"] for r in google_server.requests] == [5, 3]
    assert sorted(map(str, google_server.audience("8123456789"))) == sorted(
        map(str, [rows[0], rows[2], rows[4]])
    )


def test_google_terms_not_accepted(set_options, google_server):
    set_options("google", CUSTOMER_MATCH_TERMS_ACCEPTED=False)
    platform = get_platform("google")

    with pytest.raises(PlatformRequestRejected, match="CUSTOMER_MATCH_TERMS"):
        platform.add_members(AUDIENCE, [email_row(1)])
    platform.remove_members(AUDIENCE, [email_row(1)])

    assert [r["method"] for r in google_server.requests] == ["remove"]


def test_google_credentials_never_logged(platforms, google_server, all_logs):
    google_server.respond_next(google_unavailable())

    get_platform("google").add_members(AUDIENCE, [email_row(1)])

    assert "retrying" in all_logs.text
    assert "POST /v1/audienceMembers:ingest" in all_logs.text
    assert "issued-token" not in all_logs.text
    assert "PRIVATE KEY" not in all_logs.text
    assert google_server.issued == 1
