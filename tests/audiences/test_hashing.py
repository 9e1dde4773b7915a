"""Normalised and hashed identifiers against digests worked out outside the code.

Each expected digest was computed with coreutils, ``printf '%s' VALUE | sha256sum``,
from the normalised value written beside it. The first three are also the digests in
Google's Data Manager quickstart sample data.
"""

import pytest

from omnichannel.audiences.hashing import (
    Contact,
    normalise_country,
    normalise_email,
    normalise_email_for_google,
    normalise_name,
    normalise_phone_e164,
    phone_digits,
    sha256_hex,
)
from omnichannel.audiences.platforms.google import GooglePlatform
from omnichannel.audiences.platforms.meta import MetaPlatform
from omnichannel.exceptions import InvalidIdentifier

DIGESTS = {
    "dana@example.com": (
        "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3"
    ),
    "danam@example.com": (
        "1df6b43bc68dd38eca94e6a65b4f466ae537b796c81a526918b40ac4a7b906c7"
    ),
    "alexj@example.com": (
        "2ef46c4214c3fc1b277a2d976d55194e12b899aa50d721f28da858c7689756e3"
    ),
    "anna.example@example.com": (
        "fc5ebf839077551c000f1a91ecab8e690c04e9aad43d972bf5d81f8e8a6fcf00"
    ),
    "cloudysanfrancisco@googlemail.com": (
        "332ed5427d17deb381928a719533e85046d68d7e45553abb805852b7d631fcb7"
    ),
    "cloudy.san.francisco+shop@googlemail.com": (
        "5ad4379c2ec8543847db957b30d9915ecb8d14fc560f2ed426ce81cd0eec7927"
    ),
    "user.name+nyc@example.com": (
        "f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac"
    ),
    "+447700900123": "a8acc3a90a7b4e4dc65e93db9240ed26523050ef754d63b75b5161de76781436",
    "447700900123": "033134b911b137918338415ee3d20a064b24773d36a3b02e8b99fdd3fcd6b4cd",
    "+18005550100": "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30",
    "18005550100": "92cfdc5fbcd4a20fbe5d3857af6c1aba31762105bba7f21a17155e920653046c",
    "+49301234567": "74bd805bcc47f8603082430ca056311389e38b74fcdfbc32bcb5c6a9269ff3bf",
    "49301234567": "2f9fbc550b12cbc0e6242384cc472bd1e4f058a8b773f189f7acb86d202655ce",
    "zo\u00eb": "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450",
    "obriensmith": "16765783f9c8c8a3accf27f1abb877688cb5904c21a4a7afb5f125bcfcb246ba",
    "gb": "0b407281768f0e833afef47ed464b6571d01ca4d53c12ce5c51d1462f4ad6677",
}


def meta():
    return MetaPlatform("meta", {})


def google():
    return GooglePlatform("google", {})


def test_sha256_hex_matches_coreutils():
    for value, digest in DIGESTS.items():
        assert sha256_hex(value) == digest, value


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("dana@example.com", "dana@example.com"),
        ("DanaM@example.com", "danam@example.com"),
        ("  ALEXJ@example.com ", "alexj@example.com"),
        ("  Anna.Example@Example.COM ", "anna.example@example.com"),
        ("anna.example @example.com", "anna.example@example.com"),
        ("\tUser.Name+NYC@Example.com\n", "user.name+nyc@example.com"),
    ],
)
def test_email_mixed_case_and_spaces(raw, normalised):
    assert normalise_email(raw) == normalised
    assert sha256_hex(normalise_email(raw)) == DIGESTS[normalised]


@pytest.mark.parametrize(
    ("raw", "google_value", "meta_value"),
    [
        (
            "  Cloudy.San.Francisco+Shop@GoogleMail.com ",
            "cloudysanfrancisco@googlemail.com",
            "cloudy.san.francisco+shop@googlemail.com",
        ),
        (
            "User.Name+NYC@Example.com",
            "user.name+nyc@example.com",
            "user.name+nyc@example.com",
        ),
    ],
)
def test_email_gmail_rule_only_for_google(raw, google_value, meta_value):
    assert normalise_email_for_google(raw) == google_value
    assert google().hash_contact(Contact(1, email=raw)) == {
        "emailAddress": DIGESTS[google_value]
    }
    assert meta().hash_contact(Contact(1, email=raw))["EMAIL"] == DIGESTS[meta_value]


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("07700 900123", "GB", "+447700900123"),
        ("+44 (0)7700 900123", None, "+447700900123"),
        ("0044 7700 900123", None, "+447700900123"),
        ("(800) 555-0100", "US", "+18005550100"),
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_phone_national_format(raw, region, e164):
    assert normalise_phone_e164(raw, region) == e164
    google_row = google().hash_contact(Contact(1, phone=raw, country=region or ""))
    meta_row = meta().hash_contact(Contact(1, phone=raw, country=region or ""))
    assert google_row["phoneNumber"] == DIGESTS[e164]
    assert meta_row["PHONE"] == DIGESTS[phone_digits(e164)]


def test_phone_without_plus_for_meta():
    assert phone_digits("+447700900123") == "447700900123"
    row = meta().hash_contact(Contact(1, phone="+44 7700 900123"))
    assert row == {"PHONE": DIGESTS["447700900123"]}


def test_phone_national_without_region_skipped(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "DEFAULT_PHONE_REGION": None}

    with pytest.raises(InvalidIdentifier):
        normalise_phone_e164("07700 900123")
    assert google().hash_contact(Contact(1, phone="07700 900123")) == {}
    assert meta().hash_contact(Contact(1, phone="07700 900123")) == {}


def test_name_lowercase_letters_only():
    assert normalise_name("  Zo\u00eb ") == "zo\u00eb"
    # "e" followed by a combining diaeresis composes to the same letter.
    assert normalise_name("ZOE\u0308") == "zo\u00eb"
    assert normalise_name("O'Brien-Smith") == "obriensmith"
    assert normalise_name(" 3rd. ") == "rd"


def test_country_lowercase_code():
    assert normalise_country(" GB ") == "gb"
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_country("GBR")
    assert caught.value.field == "country"


def test_meta_row_with_names_and_country():
    contact = Contact(
        1,
        email="  Anna.Example@Example.COM ",
        phone="07700 900123",
        first_name="Zo\u00eb",
        last_name="O'Brien-Smith",
        country="GB",
    )

    row = meta().hash_contact(contact)

    assert row == {
        "EMAIL": DIGESTS["anna.example@example.com"],
        "PHONE": DIGESTS["447700900123"],
        "FN": DIGESTS["zo\u00eb"],
        "LN": DIGESTS["obriensmith"],
        "COUNTRY": DIGESTS["gb"],
    }


def test_names_alone_not_matchable():
    contact = Contact(1, first_name="Zo\u00eb", last_name="Sample", country="GB")

    assert meta().hash_contact(contact) == {}
    assert google().hash_contact(contact) == {}


@pytest.mark.parametrize("raw", ["", "   ", "no-at-sign", "@example.com", "a@b"])
def test_email_invalid_rejected(raw):
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_email(raw)
    assert caught.value.field == "email"


def test_email_invalid_message_hides_value():
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_email("secret-person-at-example.com")
    assert "secret-person" not in str(caught.value)


def test_gmail_empty_local_part_rejected():
    with pytest.raises(InvalidIdentifier):
        normalise_email_for_google("+tag@gmail.com")


def test_phone_country_lower_case_read():
    contact = Contact(1, phone="07700 900123", country="gb")

    assert google().hash_contact(contact) == {"phoneNumber": DIGESTS["+447700900123"]}
    assert meta().hash_contact(contact)["PHONE"] == DIGESTS["447700900123"]
