from django.urls import path

from omnichannel.consent import api, views

urlpatterns = [
    path(
        "unsubscribe/<str:token>/",
        views.UnsubscribeView.as_view(),
        name="unsubscribe",
    ),
    path("preferences/", views.PreferenceCentreView.as_view(), name="my-preferences"),
    path(
        "preferences/<str:token>/",
        views.PreferenceCentreView.as_view(),
        name="preferences",
    ),
    path(
        "confirm/<str:token>/",
        views.ConfirmOptInView.as_view(),
        name="confirm-opt-in",
    ),
]

api_urlpatterns = [
    path("consent/", api.ConsentView.as_view(), name="api-consent"),
    path(
        "profiles/<uuid:uuid>/consent/",
        api.ConsentStateView.as_view(),
        name="api-consent-state",
    ),
    path("opt-in/", api.OptInView.as_view(), name="api-opt-in"),
    path("sms/inbound/", api.InboundSMSView.as_view(), name="api-sms-inbound"),
    path("profiles/<uuid:uuid>/export/", api.ExportView.as_view(), name="api-export"),
    path("profiles/<uuid:uuid>/erase/", api.EraseView.as_view(), name="api-erase"),
]
