"""URLs of the health and metrics endpoints, included by ``omnichannel.urls``."""

from django.urls import path

from omnichannel.ops import views

urlpatterns = [
    path("health/", views.health_view, name="health"),
    path("metrics/", views.metrics_view, name="metrics"),
]
