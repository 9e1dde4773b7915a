"""The test URLs plus anymail's webhooks, for the forged-webhook tests."""

from django.urls import include, path

from tests.urls import urlpatterns as test_urlpatterns

urlpatterns = [*test_urlpatterns, path("anymail/", include("anymail.urls"))]
