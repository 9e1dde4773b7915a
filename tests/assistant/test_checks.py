"""System checks of OMNICHANNEL['ASSISTANT']."""

import pytest

from omnichannel.assistant.checks import check_assistant_settings


@pytest.fixture
def check(settings):
    def run(value):
        settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": value}
        return [(issue.id, issue.msg) for issue in check_assistant_settings()]

    return run


def ids(issues):
    return [issue_id for issue_id, _msg in issues]


def test_empty_settings_pass(check):
    assert check({}) == []


def test_working_model_settings_pass(check):
    assert check({"BASE_URL": "http://127.0.0.1:11434/v1", "MODEL": "llama3.1"}) == []


def test_not_a_dict(check):
    assert ids(check("http://x")) == ["omnichannel.E100"]


def test_unknown_key_warns(check):
    issues = check({"MODLE": "x"})

    assert ids(issues) == ["omnichannel.W100"]
    assert "'MODLE'" in issues[0][1]


@pytest.mark.parametrize(
    "value",
    [{"BASE_URL": "ftp://x/v1", "MODEL": "m"}, {"BASE_URL": "localhost", "MODEL": "m"}],
)
def test_bad_base_url(check, value):
    assert ids(check(value)) == ["omnichannel.E101"]


def test_model_without_url(check):
    assert ids(check({"MODEL": "m"})) == ["omnichannel.E101"]


def test_url_without_model(check):
    assert ids(check({"BASE_URL": "http://127.0.0.1:8000/v1"})) == ["omnichannel.E102"]


@pytest.mark.parametrize(
    "name, value",
    [
        ("TIMEOUT", 0),
        ("TIMEOUT", "30"),
        ("MAX_RETRIES", -1),
        ("MAX_RETRIES", True),
        ("TEMPERATURE", 3),
        ("VARIANT_COUNT", 11),
        ("SMS_MAX_SEGMENTS", 0),
    ],
)
def test_bad_numbers(check, name, value):
    issues = check({name: value})

    assert ids(issues) == ["omnichannel.E103"]
    assert repr(value) in issues[0][1]


def test_bad_texts(check):
    assert ids(check({"BRAND_VOICE": 3})) == ["omnichannel.E104"]
    assert ids(check({"UNSUBSCRIBE_TEXT": " "})) == ["omnichannel.E104"]


@pytest.mark.parametrize("budget", [0, -5, "lots", 1.5])
def test_bad_budget(check, budget):
    assert ids(check({"DAILY_TOKEN_BUDGET": budget})) == ["omnichannel.E105"]


def test_budget_none_is_no_limit(check):
    assert check({"DAILY_TOKEN_BUDGET": None}) == []


def test_send_customer_data_must_be_bool(check):
    assert ids(check({"SEND_CUSTOMER_DATA": "no"})) == ["omnichannel.E106"]


def test_bad_schedule(check):
    issues = check({"INSIGHTS_SCHEDULE": "every monday"})

    assert ids(issues) == ["omnichannel.E107"]
    assert "got 2" in issues[0][1]


def test_bad_schedule_value(check):
    assert ids(check({"INSIGHTS_SCHEDULE": "0 6 * * funday"})) == ["omnichannel.E107"]
