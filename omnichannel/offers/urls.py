"""URLs of the offers API, included under ``api/`` by ``omnichannel.urls``."""

from django.urls import path

from omnichannel.offers import api

urlpatterns = [
    path("offers/", api.MyOffersView.as_view(), name="api-offers"),
    path("offers/codes/check/", api.CodeCheckView.as_view(), name="api-offer-check"),
    path("offers/<slug:slug>/", api.MyOfferView.as_view(), name="api-offer"),
    path(
        "offers/<slug:slug>/seen/", api.OfferSeenView.as_view(), name="api-offer-seen"
    ),
]
