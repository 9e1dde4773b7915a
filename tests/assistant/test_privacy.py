"""Masking of personal data before it leaves."""

from omnichannel.assistant.privacy import mask_record, mask_text


def test_mask_text_replaces_email_and_phone(settings):
    text = (
        "Mail ann.lee+shop@mail.example.org or call +44 (20) 7946-0958, order 104233."
    )

    masked = mask_text(text)

    assert masked == "Mail [email] or call [phone], order 104233."


def test_mask_text_replaces_known_names_whole_words():
    masked = mask_text(
        "Ann Lee wrote; Annabel did not. ann agrees.", ["Ann Lee", "Ann"]
    )

    assert masked == "[name] wrote; Annabel did not. [name] agrees."


def test_mask_text_keeps_everything_when_allowed(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "ASSISTANT": {"SEND_CUSTOMER_DATA": True},
    }

    assert mask_text("ann@example.com", ["Ann"]) == "ann@example.com"


def test_mask_record_masks_personal_fields_only():
    record = {
        "email": "ann@example.com",
        "phone": "+4915112345678",
        "name": "Ann",
        "orders": 3,
    }

    assert mask_record(record) == {
        "email": "a***@example.com",
        "phone": "***78",
        "name": "A***",
        "orders": 3,
    }


def test_mask_record_keeps_empty_values():
    assert mask_record({"email": "", "phone": None}) == {"email": "", "phone": None}
