"""URLs of the chat API, the inbound webhooks, the customer context endpoint and
the agent console; included by ``omnichannel.urls``."""

from django.urls import path, re_path

from omnichannel.conversations import api, inbound, views
from omnichannel.rest import not_found

conversation = "chat/conversations/<str:conversation_id>/"
console = "console/conversations/<uuid:conversation_id>/"

urlpatterns = [
    path("chat/conversations/", api.ConversationStartView.as_view(), name="chat_start"),
    path(
        conversation,
        api.ConversationDetailView.as_view(),
        name="chat_conversation",
    ),
    path(
        f"{conversation}messages/",
        api.MessagesView.as_view(),
        name="chat_messages",
    ),
    path(
        f"{conversation}events/",
        api.MessageStreamView.as_view(),
        name="chat_events",
    ),
    path(
        "customers/<uuid:profile_id>/context/",
        api.CustomerContextView.as_view(),
        name="customer_context",
    ),
    path(
        "customers/context/",
        api.CustomerContextLookupView.as_view(),
        name="customer_context_lookup",
    ),
    # A malformed profile id gets the API's JSON 404, not the site's HTML page.
    re_path(r"^customers/", not_found),
    path("inbound/email/", inbound.InboundEmailView.as_view(), name="inbound_email"),
    path("inbound/sms/", inbound.InboundSMSView.as_view(), name="inbound_sms"),
    path("console/", views.console, name="console"),
    path("console/conversations/", views.conversation_list, name="console_list"),
    path(console, views.conversation_detail, name="console_conversation"),
    path(
        f"{console}messages/",
        views.conversation_messages,
        name="console_messages",
    ),
    path(f"{console}reply/", views.reply, name="console_reply"),
    path(f"{console}assign/", views.assign, name="console_assign"),
    path(f"{console}close/", views.close, name="console_close"),
    path(f"{console}reopen/", views.reopen, name="console_reopen"),
    path(f"{console}coupon/", views.coupon, name="console_coupon"),
    path(
        f"{console}messages/<int:message_id>/resend/",
        views.resend,
        name="console_resend",
    ),
]
