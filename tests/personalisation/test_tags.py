"""Template tags and the context processor: output, query budget, errors."""

import logging
from datetime import timedelta

import pytest
from django.template import Context, Template, TemplateSyntaxError

from omnichannel.channels.models import OnsiteMessage
from omnichannel.personalisation import services
from omnichannel.personalisation.context_processors import omnichannel
from omnichannel.personalisation.models import Placement
from tests.factories import EventFactory
from tests.personalisation.conftest import (
    WINTER_JACKETS,
    join_segment,
    make_banner,
    make_visitor,
    visitor_request,
)

pytestmark = pytest.mark.django_db

THREE_PLACEMENTS = (
    "{% load omnichannel %}"
    '<header>{% placement "nav" %}</header>'
    '<main>{% placement "home-hero" %}</main>'
    '<aside>{% placement "sidebar" %}</aside>'
    '{% if_segment "vip" %}VIP{% else %}GUEST{% endif_segment %}'
    "{% current_profile as profile %}{{ profile.first_name }}"
)


def render(source, request):
    return Template(source).render(Context({"request": request}))


@pytest.fixture
def three_placements(hero):
    nav = Placement.objects.create(key="nav", name="Navigation")
    sidebar = Placement.objects.create(key="sidebar", name="Sidebar")
    make_banner(
        nav,
        "vip offers",
        title="VIP offers",
        rules={"type": "segment", "segment": "vip"},
    )
    make_banner(
        hero, "parkas", title="Parkas for you", rules=WINTER_JACKETS, priority=5
    )
    make_banner(hero, "generic", title="Warm through winter")
    make_banner(sidebar, "sidebar", title="Free returns")
    return hero, nav, sidebar


def test_page_with_three_placements_costs_two_queries(
    three_placements, django_assert_num_queries
):
    profile = make_visitor(first_name="Ada")
    join_segment(profile, "vip")
    EventFactory(
        profile=profile,
        name="category_viewed",
        properties={"category": "winter-jackets"},
    )

    with django_assert_num_queries(2):
        html = render(THREE_PLACEMENTS, visitor_request())

    assert "VIP offers" in html
    assert "Parkas for you" in html
    assert "Free returns" in html
    assert "VIP" in html.replace("VIP offers", "")
    assert "Ada" in html


def test_cached_banners_leave_one_query(three_placements, django_assert_num_queries):
    make_visitor(first_name="Ada")
    render(THREE_PLACEMENTS, visitor_request())

    with django_assert_num_queries(1):
        html = render(THREE_PLACEMENTS, visitor_request())

    assert "Warm through winter" in html


def test_saving_a_banner_clears_the_cache(hero):
    render('{% load omnichannel %}{% placement "home-hero" %}', visitor_request())
    make_banner(hero, "new", title="Brand new")

    html = render(
        '{% load omnichannel %}{% placement "home-hero" %}', visitor_request()
    )

    assert "Brand new" in html


def test_cache_off_reads_banners_every_page(
    three_placements, settings, django_assert_num_queries
):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "PERSONALISATION_CACHE_TIMEOUT": timedelta(0),
    }
    render(THREE_PLACEMENTS, visitor_request())

    with django_assert_num_queries(2):
        render(THREE_PLACEMENTS, visitor_request())


def test_anonymous_page_costs_two_queries(three_placements, django_assert_num_queries):
    with django_assert_num_queries(2):
        html = render(THREE_PLACEMENTS, visitor_request("9" * 32))

    assert "Warm through winter" in html
    assert "VIP offers" not in html
    assert "GUEST" in html


def test_placement_error_logs_and_shows_fallback(hero, monkeypatch, caplog):
    fallback = make_banner(hero, "generic", title="Generic hero", priority=-1)
    hero.fallback = fallback
    hero.save()
    make_banner(hero, "broken", title="Broken")

    def broken(banner, placement, template=None):
        if banner.name == "broken":
            raise RuntimeError("template exploded")
        return original(banner, placement, template)

    original = services.render_banner
    monkeypatch.setattr(services, "render_banner", broken)
    with caplog.at_level(logging.ERROR, logger="omnichannel"):
        html = render(
            '{% load omnichannel %}{% placement "home-hero" %}', visitor_request()
        )

    assert "Generic hero" in html
    assert "placement home-hero failed" in caplog.text


def test_placement_database_error_renders_fallback_free_page(hero, monkeypatch, caplog):
    from django.db import DatabaseError

    from omnichannel.personalisation import visitor

    def fail(self):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(visitor.PageContext, "_load_banners", fail)
    with caplog.at_level(logging.ERROR, logger="omnichannel"):
        html = render(
            '{% load omnichannel %}[{% placement "home-hero" %}]', visitor_request()
        )

    assert html == "[]"
    assert "loading personalisation" in caplog.text


def test_stored_invalid_rule_is_skipped_and_logged(hero, caplog):
    make_banner(hero, "bad", rules={"type": "no-such-type"}, priority=9)
    good = make_banner(hero, "good")
    make_visitor()

    with caplog.at_level(logging.ERROR, logger="omnichannel"):
        shown = services.choose_banner(visitor_request(), "home-hero")

    assert shown == good
    assert "does not compile" in caplog.text


def test_placement_as_variable_allows_template_default(hero):
    html = render(
        '{% load omnichannel %}{% placement "home-hero" as hero %}'
        "{% if hero %}{{ hero }}{% else %}DEFAULT{% endif %}",
        visitor_request(),
    )

    assert html == "DEFAULT"


def test_lazy_placement_renders_htmx_placeholder(hero):
    html = render(
        '{% load omnichannel %}{% placement "home-hero" lazy=True %}', visitor_request()
    )

    assert 'hx-get="/omnichannel/personalisation/placements/home-hero/"' in html
    assert 'hx-trigger="load"' in html


def test_banner_link_goes_through_click_tracking(hero):
    banner = make_banner(hero, "parkas", link_url="/categories/winter-jackets/")

    html = render(
        '{% load omnichannel %}{% placement "home-hero" %}', visitor_request()
    )

    assert f'href="/omnichannel/personalisation/banners/{banner.pk}/click/"' in html
    assert f'data-omnichannel-banner="{banner.pk}"' in html


def test_banner_text_is_escaped(hero):
    make_banner(hero, "xss", title="<script>alert(1)</script>")

    html = render(
        '{% load omnichannel %}{% placement "home-hero" %}', visitor_request()
    )

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_if_segment_any_of_several(db):
    profile = make_visitor()
    join_segment(profile, "rfm-champions")
    source = (
        "{% load omnichannel %}"
        '{% if_segment "vip" "rfm-champions" %}yes{% endif_segment %}'
    )

    assert render(source, visitor_request()) == "yes"
    assert render(source, visitor_request("0" * 32)) == ""


def test_if_segment_without_slug_is_a_syntax_error():
    with pytest.raises(TemplateSyntaxError, match="at least one segment slug"):
        Template("{% load omnichannel %}{% if_segment %}x{% endif_segment %}")


def test_if_segment_error_logs_and_renders_else(monkeypatch, caplog, db):
    def fail(request, *slugs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "in_segment", fail)
    source = (
        '{% load omnichannel %}{% if_segment "vip" %}A{% else %}B{% endif_segment %}'
    )
    with caplog.at_level(logging.ERROR, logger="omnichannel"):
        html = render(source, visitor_request())

    assert html == "B"
    assert "if_segment failed" in caplog.text


def test_tags_without_request_render_defaults(hero):
    make_banner(hero, "everyone", title="Everyone")
    source = (
        '{% load omnichannel %}{% placement "home-hero" %}'
        '{% if_segment "vip" %}VIP{% endif_segment %}{% current_profile as p %}{{ p }}'
    )

    html = Template(source).render(Context({}))

    assert "Everyone" in html
    assert "VIP" not in html


def test_context_processor_shares_the_page_load(hero, django_assert_num_queries):
    profile = make_visitor(first_name="Grace")
    join_segment(profile, "vip")
    request = visitor_request()
    make_banner(hero, "everyone")

    values = omnichannel(request)["omnichannel"]
    with django_assert_num_queries(2):
        assert values.profile == profile
        assert "vip" in values.segments
        services.choose_banner(request, "home-hero")


def test_onsite_messages_appear_once(db):
    profile = make_visitor()
    OnsiteMessage.objects.create(
        profile=profile, title="Your cart misses you", body="<p>Come back</p>"
    )
    source = "{% load omnichannel %}{% onsite_messages %}"

    first = render(source, visitor_request())
    second = render(source, visitor_request())

    assert "Your cart misses you" in first
    assert "<p>Come back</p>" in first
    assert second == ""
    assert OnsiteMessage.objects.get().shown_at is not None


def test_scripts_tag_loads_vendored_htmx():
    html = Template("{% load omnichannel %}{% omnichannel_scripts %}").render(Context())

    assert "/static/omnichannel/vendor/htmx-2.0.11.min.js" in html
    assert 'data-events-url="/omnichannel/personalisation/events/"' in html
    assert "://" not in html
