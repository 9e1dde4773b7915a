"""URLs of the example shop, plus the omnichannel URLs when that module exists."""

import importlib.util

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("shop.urls")),
]

try:
    HAS_OMNICHANNEL_URLS = importlib.util.find_spec("omnichannel.urls") is not None
except ModuleNotFoundError:
    HAS_OMNICHANNEL_URLS = False

if HAS_OMNICHANNEL_URLS:
    urlpatterns.insert(0, path("omnichannel/", include("omnichannel.urls")))
