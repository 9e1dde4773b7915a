"""URLs of the app.

Include them once: ``path("omnichannel/", include("omnichannel.urls"))``. The REST
API lives under ``api/``, its OpenAPI schema at ``api/schema/``.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from omnichannel.consent import urls as consent_urls
from omnichannel.profiles import urls as profiles_urls
from omnichannel.rest import not_found

app_name = "omnichannel"

api_urlpatterns: list = [
    *profiles_urls.api_urlpatterns,
    *consent_urls.api_urlpatterns,
    path("", include("omnichannel.experiments.urls")),
    path("", include("omnichannel.offers.urls")),
    path("", include("omnichannel.assistant.urls")),
    path("", include("omnichannel.journeys.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Last: any other URL under api/ gets a JSON 404, not the site's HTML page.
    re_path(r"", not_found),
]

urlpatterns: list = [
    path("", include(profiles_urls.urlpatterns)),
    path("", include(consent_urls.urlpatterns)),
    path("", include("omnichannel.channels.urls")),
    path("", include("omnichannel.segments.urls")),
    path("", include("omnichannel.conversations.urls")),
    path("", include("omnichannel.personalisation.urls")),
    path("", include("omnichannel.ops.urls")),
    path("api/", include(api_urlpatterns)),
]
