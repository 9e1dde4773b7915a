"""The template tag that puts the chat widget on a page."""

import json
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.test import Client

from omnichannel.conversations.widget import chat_widget_html


class ScriptAttributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.script = None
        self.stylesheet = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.script = dict(attrs)
        if tag == "link":
            self.stylesheet = dict(attrs)


def _parse(html):
    parser = ScriptAttributes()
    parser.feed(str(html))
    return parser


def test_widget_html_carries_settings():
    parsed = _parse(chat_widget_html())

    assert parsed.script["src"] == "/static/omnichannel/chat-widget.js"
    assert parsed.script["data-api"] == "/omnichannel/chat/conversations/"
    assert parsed.script["data-max-length"] == "2000"
    assert parsed.script["data-transport"] == "auto"
    assert "defer" in parsed.script
    assert json.loads(parsed.script["data-labels"])["send"] == "Send"
    assert parsed.stylesheet["href"] == "/static/omnichannel/chat-widget.css"


def test_template_tag_wraps_function():
    template = Template(
        "{% load omnichannel %}"
        '{% omnichannel_chat_widget title="Help" transport="poll" %}'
    )

    parsed = _parse(template.render(Context()))

    assert parsed.script["data-title"] == "Help"
    assert parsed.script["data-transport"] == "poll"


def test_widget_escapes_title():
    html = str(chat_widget_html(title='"><script>alert(1)</script>'))

    assert "<script>alert(1)" not in html
    assert _parse(html).script["data-title"] == '"><script>alert(1)</script>'


def test_widget_rejects_unknown_transport():
    with pytest.raises(ValueError, match="transport must be one of"):
        chat_widget_html(transport="websocket")


@pytest.mark.django_db
@pytest.mark.skipif(
    not __import__("tests.settings").settings.HAS_SHOP,
    reason="the example shop is not importable",
)
def test_example_shop_pages_carry_widget():
    response = Client().get("/")

    assert response.status_code == 200
    assert b"omnichannel/chat-widget.js" in response.content


def test_template_tag_with_bad_option_renders_nothing():
    template = Template(
        '{% load omnichannel %}{% omnichannel_chat_widget transport="carrier-pigeon" %}'
    )

    assert template.render(Context()) == ""
