"""Two pages for the page-cache tests: one rendering a placement, one lazy."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = engines["django"].from_string(
    '{% load omnichannel %}<html><body>{% placement "home-hero" %}</body></html>'
)
LAZY = engines["django"].from_string(
    '{% load omnichannel %}<html><body>{% placement "home-hero" lazy=True %}'
    "</body></html>"
)


def page(request):
    return HttpResponse(PAGE.render({}, request))


def lazy(request):
    return HttpResponse(LAZY.render({}, request))


urlpatterns = [
    path("page/", page),
    path("lazy/", lazy),
    path("omnichannel/", include("omnichannel.urls")),
]
