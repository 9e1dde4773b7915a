import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from omnichannel.middleware import OmnichannelMiddleware, page_event, should_track
from omnichannel.profiles.models import Event

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
PATTERNS = {
    "TRACK_PRODUCT_PATHS": [r"^/products/(?P<slug>[-\w]+)/$"],
    "TRACK_CATEGORY_PATHS": [r"^/category/(?P<category>[-\w]+)/$"],
}


def html(request):
    return HttpResponse("<html></html>", content_type="text/html; charset=utf-8")


def visit(path, *, agent=BROWSER, response=html, **headers):
    request = RequestFactory().get(path, HTTP_USER_AGENT=agent, **headers)
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    return OmnichannelMiddleware(response)(request), request


@override_settings(OMNICHANNEL=PATTERNS)
def test_middleware_records_product_view_with_path_groups():
    visit("/products/mug-042/")
    event = Event.objects.get()
    assert event.name == "product_viewed"
    assert event.properties["slug"] == "mug-042"
    assert event.source == "web"


@override_settings(OMNICHANNEL=PATTERNS)
def test_middleware_records_category_view():
    visit("/category/kitchen/")
    event = Event.objects.get()
    assert event.name == "category_viewed"
    assert event.properties["category"] == "kitchen"


@override_settings(OMNICHANNEL=PATTERNS)
def test_middleware_records_other_pages_as_page_views():
    visit("/about/")
    assert Event.objects.get().name == "page_viewed"


def test_middleware_view_override_wins():
    def view(request):
        request.omnichannel_page = {
            "event": "product_viewed",
            "properties": {"sku": "MUG-042"},
        }
        return html(request)

    visit("/p/42/", response=view)
    event = Event.objects.get()
    assert event.name == "product_viewed"
    assert event.properties["sku"] == "MUG-042"


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "Googlebot/2.1",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Go-http-client/1.1",
    ],
)
def test_middleware_skips_bots(agent):
    visit("/products/mug-042/", agent=agent)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/static/app.css", "/media/mug.jpg", "/admin/", "/favicon.ico"]
)
def test_middleware_writes_nothing_for_assets(path):
    visit(path)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_PURPOSE": "prefetch;prerender"},
        {"HTTP_PURPOSE": "prefetch"},
        {"HTTP_X_MOZ": "prefetch"},
        {"HTTP_HX_REQUEST": "true"},
    ],
)
def test_middleware_skips_prefetch_and_fragments(headers):
    visit("/about/", **headers)
    assert Event.objects.count() == 0


def test_middleware_skips_non_html_and_errors():
    visit(
        "/api/", response=lambda r: HttpResponse("{}", content_type="application/json")
    )
    visit("/missing/", response=lambda r: HttpResponse("<p>", status=404))
    assert Event.objects.count() == 0


def test_middleware_skips_views_that_opt_out():
    def view(request):
        request.omnichannel_track = False
        return html(request)

    visit("/unsubscribe/x/", response=view)
    assert Event.objects.count() == 0


def test_middleware_sets_visitor_cookie_and_reuses_it():
    response, _request = visit("/about/")
    cookie = response.cookies["omni_vid"]
    assert len(cookie.value) == 32
    assert cookie["httponly"]
    visit("/about/", HTTP_COOKIE=f"omni_vid={cookie.value}")
    assert Event.objects.values("profile").distinct().count() == 1


def test_page_event_ignores_pattern_without_match():
    request = RequestFactory().get("/products/")
    with override_settings(OMNICHANNEL=PATTERNS):
        assert page_event(request)[0] == "page_viewed"


def test_should_track_only_get():
    request = RequestFactory().post("/about/", HTTP_USER_AGENT=BROWSER)
    assert should_track(request, html(request)) is False
