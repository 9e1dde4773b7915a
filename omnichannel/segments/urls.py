from django.urls import include, path
from rest_framework.routers import SimpleRouter

from omnichannel.segments.api import SegmentViewSet

router = SimpleRouter()
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("api/", include(router.urls)),
]
