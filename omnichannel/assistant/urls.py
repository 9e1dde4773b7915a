from django.urls import path
from rest_framework.routers import SimpleRouter

from omnichannel.assistant.api import (
    UsageView,
    VariantExperimentView,
    VariantsView,
    WeeklyInsightViewSet,
)

router = SimpleRouter()
router.register(
    "assistant/insights", WeeklyInsightViewSet, basename="assistant-insight"
)

urlpatterns = [
    path("assistant/variants/", VariantsView.as_view(), name="assistant-variants"),
    path(
        "assistant/variants/experiment/",
        VariantExperimentView.as_view(),
        name="assistant-variant-experiment",
    ),
    path("assistant/usage/", UsageView.as_view(), name="assistant-usage"),
    *router.urls,
]
