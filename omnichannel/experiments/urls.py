from rest_framework.routers import SimpleRouter

from omnichannel.experiments.api import ExperimentViewSet

router = SimpleRouter()
router.register("experiments", ExperimentViewSet, basename="experiment")

urlpatterns = router.urls
