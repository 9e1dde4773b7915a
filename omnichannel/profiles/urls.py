from django.urls import path

from omnichannel.profiles import api

urlpatterns: list = []

api_urlpatterns = [
    path("identify/", api.IdentifyView.as_view(), name="api-identify"),
    path("events/", api.EventView.as_view(), name="api-events"),
    path("events/batch/", api.EventBatchView.as_view(), name="api-events-batch"),
    path("profiles/<uuid:uuid>/", api.ProfileView.as_view(), name="api-profile"),
    path(
        "profiles/<uuid:uuid>/preferences/",
        api.PreferencesView.as_view(),
        name="api-preferences",
    ),
]
