import pytest
from django.core.exceptions import ValidationError

from omnichannel.channels.models import MessageTemplate
from omnichannel.channels.preview import render_preview
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import ProfileFactory


def make_template(**fields):
    values = {
        "name": "T",
        "slug": "t",
        "channel": "email",
        "subject": "Hello",
        "body": "<p>Hi</p>",
    }
    values.update(fields)
    return MessageTemplate(**values)


@pytest.mark.django_db
def test_template_syntax_error_rejected_at_save_with_line():
    template = make_template(body="<p>Hi</p>\n<p>{% if first_name %}</p>\n<p>x</p>")
    with pytest.raises(ValidationError) as raised:
        template.save()
    messages = raised.value.message_dict["body"]
    assert len(messages) == 1
    assert messages[0].startswith("Line 2:")
    assert "endif" in messages[0]
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_template_unknown_tag_reports_line():
    template = make_template(subject="Hi {% bogus %}", body="<p>ok</p>")
    with pytest.raises(ValidationError) as raised:
        template.save()
    assert raised.value.message_dict["subject"][0].startswith("Line 1:")
    assert "bogus" in raised.value.message_dict["subject"][0]


@pytest.mark.django_db
def test_template_missing_include_rejected():
    template = make_template(body='{% include "no/such/partial.html" %}')
    with pytest.raises(ValidationError) as raised:
        template.save()
    assert "no/such/partial.html" in raised.value.message_dict["body"][0]


@pytest.mark.django_db
def test_whatsapp_template_needs_name():
    template = make_template(channel="whatsapp", body="{{ first_name }}")
    with pytest.raises(ValidationError) as raised:
        template.save()
    assert "whatsapp_template" in raised.value.message_dict


@pytest.mark.django_db
def test_email_template_needs_subject():
    with pytest.raises(ValidationError) as raised:
        make_template(subject="  ").save()
    assert "subject" in raised.value.message_dict


@pytest.mark.django_db
def test_missing_values_render_empty():
    template = make_template(
        subject="Hi {{ first_name }}{{ nothing.at.all }}",
        body="<p>{{ profile.attributes.favourite_colour }}|{{ offer_code }}|"
        "{{ missing|date:'Y' }}</p>",
    )
    template.save()
    profile = ProfileFactory(first_name="")
    rendered = render_preview(template, profile)
    assert rendered.subject == "Hi"
    assert "<p>||</p>" in rendered.html


@pytest.mark.django_db
def test_html_values_are_escaped_in_email_body():
    template = make_template(body="<p>{{ first_name }}</p>")
    template.save()
    profile = ProfileFactory(first_name="<script>x</script>")
    rendered = render_preview(template, profile)
    assert "<script>x" not in rendered.html
    assert "&lt;script&gt;x" in rendered.html


@pytest.mark.django_db
def test_dynamic_block_chosen_by_segment():
    vip = Segment.objects.create(name="VIP", slug="vip")
    template = make_template(
        body='{% segment "vip" %}<p>VIP gift</p>{% else %}<p>Standard</p>'
        "{% endsegment %}"
    )
    template.save()
    member, other = ProfileFactory(), ProfileFactory()
    SegmentMembership.objects.create(segment=vip, profile=member)
    assert "VIP gift" in render_preview(template, member).html
    assert "Standard" not in render_preview(template, member).html
    assert "Standard" in render_preview(template, other).html


@pytest.mark.django_db
def test_dynamic_block_ignores_exited_segment():
    from django.utils import timezone

    vip = Segment.objects.create(name="VIP", slug="vip")
    template = make_template(body='{% segment "vip" %}VIP{% endsegment %}')
    template.save()
    profile = ProfileFactory()
    SegmentMembership.objects.create(
        segment=vip, profile=profile, exited_at=timezone.now()
    )
    assert "VIP" not in render_preview(template, profile).html


@pytest.mark.django_db
def test_dynamic_block_chosen_by_condition():
    template = make_template(
        body="{% if profile.order_count > 2 %}<p>Loyal</p>"
        "{% else %}<p>New</p>{% endif %}"
    )
    template.save()
    assert "Loyal" in render_preview(template, ProfileFactory(order_count=3)).html
    assert "New" in render_preview(template, ProfileFactory(order_count=0)).html


@pytest.mark.django_db
def test_segment_tag_without_slug_is_a_syntax_error():
    with pytest.raises(ValidationError) as raised:
        make_template(body="{% segment %}x{% endsegment %}").save()
    assert "segment slug" in raised.value.message_dict["body"][0]


@pytest.mark.django_db
def test_email_css_inlined_and_text_part_derived():
    template = make_template(
        body='<p class="x">Hello <a href="https://shop.example/a">there</a></p>',
        css=".x { color: #ff0000; }",
        preheader="Ten percent off",
    )
    template.save()
    rendered = render_preview(template, ProfileFactory())
    assert 'style="color: #ff0000;"' in rendered.html
    assert "Ten percent off" in rendered.html
    assert rendered.text.startswith("Hello there (https://shop.example/a?")
    assert "Ten percent off" not in rendered.text


@pytest.mark.django_db
def test_utm_tags_only_on_shop_links():
    template = make_template(
        body='<a href="https://shop.example/a?utm_source=keep">a</a>'
        '<a href="https://elsewhere.example/b">b</a>'
        '<a href="https://shop.example/c?x=1&amp;y=2">c</a>',
        utm_campaign="winter",
    )
    template.save()
    html = render_preview(template, ProfileFactory()).html
    assert "https://shop.example/a?utm_source=keep&amp;utm_medium=email" in html
    assert "utm_campaign=winter" in html
    assert 'href="https://elsewhere.example/b"' in html
    assert "x=1&amp;y=2&amp;utm_source=omnichannel" in html


@pytest.mark.django_db
def test_sms_stop_line_added_unless_present():
    profile = ProfileFactory(first_name="Anna")
    plain = make_template(
        channel="sms", subject="", body="Don't stop now, {{ first_name }}"
    )
    plain.save()
    assert render_preview(plain, profile).text.endswith("\nSTOP to opt out")
    with_stop = make_template(
        slug="t2", channel="sms", subject="", body="Sale! Reply STOP to opt out"
    )
    with_stop.save()
    assert render_preview(with_stop, profile).text == "Sale! Reply STOP to opt out"
    service = make_template(
        slug="t3",
        channel="sms",
        subject="",
        body="Order shipped",
        purpose="transactional",
    )
    service.save()
    assert render_preview(service, profile).text == "Order shipped"


@pytest.mark.django_db
def test_marketing_email_gets_unsubscribe_footer():
    template = make_template(body="<p>New arrivals</p>", purpose="marketing")
    template.save()
    profile = ProfileFactory()

    rendered = render_preview(template, profile)

    assert "/unsubscribe/" in rendered.html
    assert "/preferences/" in rendered.html
    assert "Unsubscribe" in rendered.text
    assert rendered.html.index("New arrivals") < rendered.html.index("Unsubscribe")


@pytest.mark.django_db
def test_body_placing_its_own_link_gets_no_footer():
    template = make_template(
        body='<p>Hi</p><a href="{{ unsubscribe_url }}">Leave the list</a>',
        purpose="marketing",
    )
    template.save()

    rendered = render_preview(template, ProfileFactory())

    assert rendered.html.count("/unsubscribe/") == 1
    assert "Manage your email preferences" not in rendered.html


@pytest.mark.django_db
def test_transactional_email_gets_no_footer():
    template = make_template(body="<p>Your order shipped</p>", purpose="transactional")
    template.save()

    rendered = render_preview(template, ProfileFactory())

    assert "/unsubscribe/" not in rendered.html


@pytest.mark.django_db
def test_test_send_footer_has_no_working_link(mailoutbox):
    from omnichannel.channels.preview import send_test

    template = make_template(body="<p>New arrivals</p>", purpose="marketing")
    template.save()

    send_test(template, ProfileFactory(), "staff@example.com")

    body = mailoutbox[0].alternatives[0][0]
    assert "/unsubscribe/" not in body
    assert "#unsubscribe" in body
