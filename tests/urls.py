from django.contrib import admin
from django.urls import include, path

from tests.settings import HAS_SHOP

urlpatterns = [
    path("admin/", admin.site.urls),
    path("omnichannel/", include("omnichannel.urls")),
]
if HAS_SHOP:
    urlpatterns.append(path("", include("shop.urls")))
