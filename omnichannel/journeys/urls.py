"""URLs of the journeys API, included under ``api/`` by ``omnichannel.urls``."""

from django.urls import path

from omnichannel.journeys import api

urlpatterns = [
    path(
        "journeys/<slug:slug>/enrollments/",
        api.EnrollView.as_view(),
        name="api-journey-enroll",
    ),
]
