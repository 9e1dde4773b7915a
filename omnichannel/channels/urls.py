from django.urls import include, path
from rest_framework.routers import SimpleRouter

from omnichannel.channels import views
from omnichannel.channels.api import DeliveryViewSet, MessageTemplateViewSet

router = SimpleRouter()
router.register("templates", MessageTemplateViewSet, basename="message-template")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("t/o/<str:token>.gif", views.track_open, name="track-open"),
    path("t/c/<str:token>/", views.track_click, name="track-click"),
    path("s/<str:code>", views.short_link, name="short-link"),
    path(
        "webpush/subscription/",
        views.webpush_subscription,
        name="webpush-subscription",
    ),
    path("webpush/key/", views.webpush_key, name="webpush-key"),
    path("webpush/sw.js", views.webpush_service_worker, name="webpush-sw"),
    path("onsite/messages/", views.onsite_messages, name="onsite-messages"),
    path(
        "onsite/messages/<int:message_id>/dismiss/",
        views.onsite_dismiss,
        name="onsite-dismiss",
    ),
    path("api/", include(router.urls)),
]
