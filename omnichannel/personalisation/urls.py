"""URLs of on-site personalisation, included by ``omnichannel.urls``."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from omnichannel.personalisation import api, views

router = SimpleRouter()
router.register(
    "personalisation/placements", api.PlacementViewSet, basename="placement"
)
router.register("personalisation/banners", api.BannerViewSet, basename="banner")
router.register("personalisation/popups", api.PopupViewSet, basename="popup")

urlpatterns = [
    path(
        "personalisation/placements/<slug:key>/",
        views.placement_fragment,
        name="placement-fragment",
    ),
    path(
        "personalisation/banners/<int:pk>/click/",
        views.banner_click,
        name="banner-click",
    ),
    path("personalisation/events/", views.record_events, name="personalisation-events"),
    path(
        "personalisation/popups/<slug:key>/submit/",
        views.popup_submit,
        name="popup-submit",
    ),
    path("api/", include(router.urls)),
]
