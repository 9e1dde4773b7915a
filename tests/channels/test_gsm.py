import pytest

from omnichannel.channels.gsm import (
    GSM7,
    UCS2,
    is_gsm7,
    sms_info,
    split_segments,
    transliterate,
)

BIRTHDAY = (
    "Happy birthday, {first_name}! Here is 15% off your next order with code BDAY15, "
    "valid until 15 Jan 2027. Shop: https://shop.example/b/7QX2 STOP to opt out"
)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        (BIRTHDAY.format(first_name="Anna"), GSM7, 146, 1),
        (BIRTHDAY.format(first_name="Zoë"), UCS2, 145, 3),
        (BIRTHDAY.format(first_name="Anna").replace("Anna!", "Anna! 🎂"), UCS2, 149, 3),
        (
            "Anna, your basket is still waiting 🛒 Get 10% off with code CART10 now!",
            UCS2,
            71,
            2,
        ),
    ],
)
def test_sms_info_counts_as_networks_do(text, encoding, units, segments):
    info = sms_info(text)
    assert info.encoding == encoding
    assert info.units == units
    assert info.segments == segments


def test_sms_info_limits_at_boundaries():
    assert sms_info("a" * 160).segments == 1
    assert sms_info("a" * 161).segments == 2
    assert sms_info("a" * 306).segments == 2
    assert sms_info("a" * 307).segments == 3
    assert sms_info("ë" * 70).segments == 1
    assert sms_info("ë" * 71).segments == 2
    assert sms_info("ë" * 134).segments == 2
    assert sms_info("ë" * 135).segments == 3


def test_sms_info_counts_extension_characters_twice():
    info = sms_info("€" * 80)
    assert info.encoding == GSM7
    assert info.units == 160
    assert info.segments == 1
    assert sms_info("€" * 81).segments == 2


def test_split_segments_keeps_escape_and_surrogate_pairs_whole():
    gsm_parts = split_segments("a" * 152 + "€" + "b" * 10)
    assert gsm_parts[0] == "a" * 152
    assert gsm_parts[1].startswith("€")
    emoji_parts = split_segments("x" * 66 + "🛒" + "y" * 10)
    assert emoji_parts[0] == "x" * 66
    assert emoji_parts[1].startswith("🛒")


def test_empty_text_has_no_segment():
    assert sms_info("").segments == 0


def test_transliterate_zoe_fits_one_segment():
    text = transliterate(BIRTHDAY.format(first_name="Zoë"))
    info = sms_info(text)
    assert "Zoe!" in text
    assert info.encoding == GSM7
    assert info.units == 145
    assert info.segments == 1


def test_transliterate_drops_emoji_and_maps_punctuation():
    assert transliterate("Anna! 🎂 “Hi” – ok…") == 'Anna! "Hi" - ok...'
    assert is_gsm7(transliterate("Ça coûte 5 € — über"))
