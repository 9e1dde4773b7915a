"""URLs of the app.

Include them once: ``path("omnichannel/", include("omnichannel.urls"))``.
"""

from django.urls import include, path

app_name = "omnichannel"

urlpatterns: list = [
    path("", include("omnichannel.profiles.urls")),
    path("", include("omnichannel.channels.urls")),
    path("api/", include("omnichannel.experiments.urls")),
    path("api/", include("omnichannel.offers.urls")),
    path("", include("omnichannel.conversations.urls")),
]
