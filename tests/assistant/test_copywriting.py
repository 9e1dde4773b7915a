"""Copy variants: checks, the paths with and without a model, and the A/B test."""

import json

import pytest
from django.urls import reverse

from omnichannel.assistant.copywriting import (
    check_variant,
    create_experiment,
    generate_variants,
    template_variables,
    unknown_variables,
)
from omnichannel.assistant.exceptions import InvalidRequest
from omnichannel.channels.models import MessageTemplate
from omnichannel.experiments.models import Experiment
from tests.assistant.fake_model import answer, error

pytestmark = pytest.mark.django_db


@pytest.fixture
def email():
    return MessageTemplate.objects.create(
        name="Spring sale",
        slug="spring-sale",
        channel="email",
        subject="Our spring sale starts today",
        preheader="Fresh picks for {{ first_name }}",
        body=(
            "<p>Hello {{ first_name }}, use {{ offer_code }}.</p>"
            "<p>Unsubscribe below.</p>"
        ),
    )


@pytest.fixture
def sms():
    return MessageTemplate.objects.create(
        name="Cart SMS",
        slug="cart-sms",
        channel="sms",
        body="{{ first_name }}, your cart is waiting: {{ cart_url }}",
    )


def variants(*texts):
    return answer(json.dumps({"variants": list(texts)}))


def test_template_variables_skip_loop_variables():
    source = (
        "{% for item in recommendations %}{{ item.name }}{% endfor %}"
        "{% if profile.order_count > 2 and vip %}{{ code|upper }}{% endif %}"
    )

    names = {name for name, _path in template_variables(source)}

    assert names == {"recommendations", "profile", "vip", "code"}


def test_unknown_variables_include_bad_profile_field():
    unknown = unknown_variables(
        "{{ profile.shoe_size }} {{ coupon }} {{ first_name }}", set()
    )

    assert unknown == ["coupon", "profile.shoe_size"]


def test_check_rejects_unknown_variable(email):
    checked = check_variant(email, "subject", "Hi {{ nickname }}", allowed_extra=set())

    assert not checked.usable
    assert "Unknown template variables: nickname" in checked.problems[0]


def test_check_accepts_variable_template_already_uses(email):
    checked = check_variant(
        email, "subject", "{{ offer_code }} inside", allowed_extra={"offer_code"}
    )

    assert checked.usable


def test_check_rejects_syntax_error(email):
    checked = check_variant(
        email, "subject", "{% if first_name %}Hi", allowed_extra=set()
    )

    assert any("template language rejects" in p for p in checked.problems)


def test_check_accepts_marketing_body_left_to_footer(email):
    checked = check_variant(email, "body", "<p>Buy now</p>", allowed_extra=set())

    assert checked.problems == []


def test_check_requires_label_on_own_unsubscribe_link(email):
    checked = check_variant(
        email,
        "body",
        '<p>Buy now</p><a href="{{ unsubscribe_url }}">here</a>',
        allowed_extra=set(),
    )

    assert checked.problems == [
        "A marketing email body that places {{ unsubscribe_url }} must label the "
        "link with the text 'unsubscribe'."
    ]


def test_check_skips_unsubscribe_for_transactional_email(email):
    email.purpose = "transactional"

    checked = check_variant(email, "body", "<p>Your receipt</p>", allowed_extra=set())

    assert checked.usable


def test_check_counts_sms_segments_with_stop_text(sms):
    text = "A" * 150

    checked = check_variant(sms, "sms", text, allowed_extra=set())

    # 150 characters + newline + "STOP to opt out" exceed one GSM-7 segment.
    assert checked.sms.encoding == "gsm7"
    assert checked.sms.segments == 2
    assert "2 SMS segments" in checked.problems[0]
    assert checked.notes == ["'STOP to opt out' is added when sent."]


def test_check_explains_ucs2_sms(sms):
    text = "Your cart misses you 😍 " + "x" * 40

    checked = check_variant(sms, "sms", text, allowed_extra=set())

    assert checked.sms.encoding == "ucs2"
    assert "UCS-2 because of characters outside GSM-7" in checked.problems[0]


def test_check_uses_template_segment_limit(sms):
    sms.sms_max_segments = 2

    checked = check_variant(sms, "sms", "A" * 150, allowed_extra=set())

    assert checked.usable


def test_check_rejects_long_and_multiline_subject(email):
    checked = check_variant(email, "subject", "x" * 151 + "\nmore", allowed_extra=set())

    assert any("limit is 150" in p for p in checked.problems)
    assert any("one line" in p for p in checked.problems)


def test_variants_without_model_rewrite_current_text(email, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}

    result = generate_variants(email, "subject", count=3)

    assert not result.written_by_model
    assert "No model is configured" in result.notice
    texts = [v.text for v in result.variants]
    assert texts[0].endswith("our spring sale starts today")
    assert "Our spring sale starts today?" in texts
    assert all(v.usable for v in result.variants)


def test_sms_variants_without_model_fit_gsm7(sms, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    sms.body = "“Hi” {{ first_name }} – your cart is waiting: {{ cart_url }}"

    result = generate_variants(sms, "sms", count=2)

    assert result.variants[0].sms.encoding == "gsm7"
    assert result.variants[0].usable


def test_model_variants_are_checked(email, fake_model, assistant_settings):
    assistant_settings(
        BRAND_VOICE="Warm, brief, no exclamation marks.", LANGUAGE="German"
    )
    fake_model.play(
        variants(
            "Frühling im Shop, {{ first_name }}",
            "Dein Code {{ offer_code }} wartet",
            "Hallo {{ nickname }}",
        )
    )

    result = generate_variants(
        email, "subject", count=3, brief="mention the new colours"
    )

    assert result.written_by_model
    assert [v.usable for v in result.variants] == [True, True, False]
    prompt = fake_model.prompt_text()
    assert "Brand voice: Warm, brief, no exclamation marks." in prompt
    assert "Language: German." in prompt
    assert "mention the new colours" in prompt
    assert "{{ offer_code }}" in prompt


def test_model_prompt_masks_personal_data(email, fake_model):
    email.subject = "Questions? Write to anna.lee@example.com or call +49 30 1234567"
    fake_model.play(variants("Spring is here"))

    generate_variants(email, "subject", count=1)

    prompt = fake_model.prompt_text()
    assert "anna.lee@example.com" not in prompt
    assert "1234567" not in prompt
    assert "[email]" in prompt
    assert "[phone]" in prompt


def test_model_variants_tolerate_code_fence(email, fake_model):
    fake_model.play(answer('```json\n{"variants": ["A fresh start"]}\n```'))

    result = generate_variants(email, "subject", count=1)

    assert [v.text for v in result.variants] == ["A fresh start"]


def test_model_failure_falls_back_with_notice(email, fake_model):
    fake_model.play(error(500), error(500), error(500))

    result = generate_variants(email, "subject", count=2)

    assert not result.written_by_model
    assert "The model could not write variants" in result.notice
    assert len(result.variants) == 2


def test_model_answer_not_json_falls_back(email, fake_model):
    fake_model.play(answer("Here are some ideas: 1. Spring! 2. Sale!"))

    result = generate_variants(email, "subject", count=2)

    assert not result.written_by_model
    assert "is not the JSON" in result.notice


def test_generate_rejects_bad_input(email):
    with pytest.raises(InvalidRequest, match="'sms' is not a kind of copy for a email"):
        generate_variants(email, "sms")
    with pytest.raises(InvalidRequest, match="ask for 1 to 10"):
        generate_variants(email, "subject", count=11)
    with pytest.raises(InvalidRequest, match="longer than 1000"):
        generate_variants(email, "subject", brief="x" * 1001)


def test_create_experiment_from_variants(email):
    experiment = create_experiment(
        email, "subject", ["Spring is here", "New colours inside"], created_by="ann"
    )

    assert experiment.status == Experiment.Status.DRAFT
    assert experiment.target == "message"
    assert experiment.target_ref == "spring-sale"
    assert experiment.metric == "open_rate"
    variants = list(experiment.variants.order_by("id"))
    assert [v.key for v in variants] == ["control", "variant-1", "variant-2"]
    assert variants[0].is_control
    assert variants[0].payload == {
        "subject": "Our spring sale starts today",
        "template": "spring-sale",
    }
    assert variants[2].payload["subject"] == "New colours inside"


def test_create_experiment_twice_gets_distinct_keys(email):
    first = create_experiment(email, "subject", ["Spring is here"])
    second = create_experiment(email, "subject", ["Spring is here"])

    assert first.key != second.key


def test_create_experiment_rejects_failing_variant(email):
    with pytest.raises(InvalidRequest, match="Variant 2 cannot be used: Unknown"):
        create_experiment(email, "subject", ["Fine", "Hi {{ nickname }}"])

    assert not Experiment.objects.exists()


def test_create_experiment_needs_a_variant(email):
    with pytest.raises(InvalidRequest, match="at least one variant"):
        create_experiment(email, "subject", ["  "])


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_editor_links_to_variants(staff_client, email):
    response = staff_client.get(
        reverse("admin:omnichannel_messagetemplate_change", args=[email.pk])
    )

    assert reverse("admin:omnichannel_messagetemplate_variants", args=[email.pk]) in (
        response.content.decode()
    )


def test_admin_writes_variants_and_creates_test(staff_client, email, fake_model):
    url = reverse("admin:omnichannel_messagetemplate_variants", args=[email.pk])
    fake_model.play(variants("Spring is here", "Hi {{ nickname }}"))

    page = staff_client.post(
        url, {"kind": "subject", "count": "2", "action": "generate"}
    )

    content = page.content.decode()
    assert page.status_code == 200
    assert "Spring is here" in content
    assert "Unknown template variables: nickname" in content
    assert content.count('name="variant"') == 1

    done = staff_client.post(
        url, {"kind": "subject", "action": "experiment", "variant": ["Spring is here"]}
    )

    experiment = Experiment.objects.get()
    assert done.status_code == 302
    assert done.url == reverse(
        "admin:omnichannel_experiment_change", args=[experiment.pk]
    )
    assert experiment.variants.count() == 2


def test_admin_shows_error_for_tampered_variant(staff_client, email):
    url = reverse("admin:omnichannel_messagetemplate_variants", args=[email.pk])

    page = staff_client.post(
        url, {"kind": "subject", "action": "experiment", "variant": ["{{ secret }}"]}
    )

    assert page.status_code == 200
    assert "Variant 1 cannot be used" in page.content.decode()
    assert not Experiment.objects.exists()


def test_admin_rejects_bad_count(staff_client, email):
    url = reverse("admin:omnichannel_messagetemplate_variants", args=[email.pk])

    page = staff_client.post(url, {"kind": "subject", "count": "many"})

    assert "must be a whole number" in page.content.decode()
