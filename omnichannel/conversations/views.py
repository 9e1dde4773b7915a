"""The agent console: open conversations, the customer beside each, and the
actions to reply, assign and close. Pages are htmx partials. Every view needs an
active staff user with the ``omnichannel.handle_conversation`` permission, and
every POST a CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from omnichannel.conf import app_settings
from omnichannel.conversations import coupons, replies, services
from omnichannel.conversations.customer import customer_context
from omnichannel.conversations.models import Conversation, Message
from omnichannel.exceptions import (
    ConversationClosed,
    CouponUnavailable,
    InvalidMessage,
)

LIST_LENGTH = 100
MAX_AGENTS = 200
VIEWS = {
    "queue": _("Waiting for an agent"),
    "mine": _("Assigned to me"),
    "bot": _("With the bot"),
    "open": _("All open"),
    "closed": _("Closed"),
}


def _login_url() -> str:
    if apps.is_installed("django.contrib.admin"):
        return reverse("admin:login")
    return str(settings.LOGIN_URL)


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let only users who may handle conversations in; send others to log in."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(_login_url())
            return redirect_to_login(request.get_full_path(), _login_url())
        if not services.can_handle_conversations(user):
            return render(
                request,
                "omnichannel/conversations/forbidden.html",
                status=403,
            )
        return view(request, *args, **kwargs)

    return wrapped


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def conversations_for(view: str, user: Any) -> QuerySet[Conversation]:
    """Return the conversations of one console list, most urgent first."""
    latest_body = Subquery(
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(author=Message.Author.SYSTEM)
        .order_by("-id")
        .values("body")[:1]
    )
    queryset = Conversation.objects.select_related("profile", "assigned_to").annotate(
        preview=latest_body
    )
    open_ = Conversation.Status.OPEN
    if view == "queue":
        queryset = queryset.filter(status=open_, handler=Conversation.Handler.HUMAN)
    elif view == "mine":
        queryset = queryset.filter(status=open_, assigned_to=user)
    elif view == "bot":
        queryset = queryset.filter(status=open_, handler=Conversation.Handler.BOT)
    elif view == "closed":
        return queryset.filter(status=Conversation.Status.CLOSED).order_by(
            "-closed_at", "-id"
        )
    else:
        queryset = queryset.filter(status=open_)
    return queryset.order_by("waiting_since", "-last_message_at", "-id")


def _list_context(request: HttpRequest) -> dict[str, Any]:
    view = request.GET.get("view", "queue")
    if view not in VIEWS:
        view = "queue"
    conversations = list(conversations_for(view, request.user)[:LIST_LENGTH])
    # Nulls sort differently per database; unanswered conversations come first.
    conversations.sort(key=lambda c: c.waiting_since is None)
    return {
        "view": view,
        "views": VIEWS,
        "conversations": conversations,
        "poll_seconds": int(app_settings.CHAT_POLL_SECONDS),
        "default_currency": app_settings.DEFAULT_CURRENCY,
    }


def _agents() -> list[Any]:
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    return [
        user
        for user in users.order_by("first_name", "pk")[:MAX_AGENTS]
        if services.can_handle_conversations(user)
    ]


def _conversation_context(
    request: HttpRequest, conversation: Conversation, **extra: Any
) -> dict[str, Any]:
    profile = conversation.profile
    context = customer_context(profile)
    suggestion = coupons.suggest(profile, context)
    return {
        "conversation": conversation,
        "messages": services.messages_after(conversation, 0, limit=500),
        "customer": context,
        "suggestion": suggestion,
        "agents": _agents(),
        "max_length": int(app_settings.CHAT_MESSAGE_MAX_LENGTH),
        "poll_seconds": int(app_settings.CHAT_POLL_SECONDS),
        "draft": "",
        **extra,
    }


def _panel(
    request: HttpRequest,
    conversation: Conversation,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = _conversation_context(request, conversation, **extra)
    if _is_htmx(request):
        return render(
            request,
            "omnichannel/conversations/_conversation.html",
            context,
            status=status,
        )
    if status == 200:
        return HttpResponseRedirect(
            reverse("omnichannel:console_conversation", args=[conversation.uuid])
        )
    return render(
        request,
        "omnichannel/conversations/console.html",
        {**_list_context(request), **context},
        status=status,
    )


def _get(conversation_id: Any) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("profile", "assigned_to"),
        uuid=conversation_id,
    )


@require_GET
@agent_required
def console(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "omnichannel/conversations/console.html",
        _list_context(request),
    )


@require_GET
@agent_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "omnichannel/conversations/_list.html", _list_context(request)
    )


@require_GET
@agent_required
def conversation_detail(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    context = _conversation_context(request, conversation)
    if _is_htmx(request):
        return render(request, "omnichannel/conversations/_conversation.html", context)
    return render(
        request,
        "omnichannel/conversations/console.html",
        {**_list_context(request), **context},
    )


@require_GET
@agent_required
def conversation_messages(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    return render(
        request,
        "omnichannel/conversations/_messages.html",
        {
            "conversation": conversation,
            "messages": services.messages_after(conversation, 0, limit=500),
            "poll_seconds": int(app_settings.CHAT_POLL_SECONDS),
        },
    )


@require_POST
@agent_required
def reply(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    body = request.POST.get("body", "")
    try:
        services.add_agent_reply(conversation, request.user, body)
    except InvalidMessage as error:
        return _panel(
            request,
            conversation,
            status=400,
            error=_("The reply %(message)s") % {"message": error.message},
            draft=body,
        )
    except ConversationClosed as error:
        return _panel(request, conversation, status=409, error=str(error), draft=body)
    return _panel(request, conversation)


@require_POST
@agent_required
def assign(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    choice = request.POST.get("agent", "")
    agent = None
    if choice == "me":
        agent = request.user
    elif choice:
        agent = (
            get_user_model().objects.filter(pk=choice).first()
            if choice.isdigit()
            else None
        )
        if agent is None:
            return _panel(
                request,
                conversation,
                status=400,
                error=_("No agent with id %(id)s; choose one from the list.")
                % {"id": choice[:20]},
            )
    try:
        services.assign(conversation, agent, by=request.user)
    except ValueError as error:
        return _panel(request, conversation, status=400, error=str(error))
    return _panel(request, conversation)


@require_POST
@agent_required
def close(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    services.close(conversation, by=request.user)
    return _panel(request, conversation)


@require_POST
@agent_required
def reopen(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    services.reopen(conversation, by=request.user)
    return _panel(request, conversation)


@require_POST
@agent_required
def coupon(request: HttpRequest, conversation_id: Any) -> HttpResponse:
    conversation = _get(conversation_id)
    context = customer_context(conversation.profile)
    suggestion = coupons.suggest(conversation.profile, context)
    if suggestion is None:
        return _panel(
            request,
            conversation,
            status=409,
            error=_("This customer is not a VIP, so no coupon is suggested."),
        )
    try:
        code = coupons.create_coupon(conversation, by=request.user)
    except CouponUnavailable as error:
        return _panel(request, conversation, status=409, coupon_error=str(error))
    draft = suggestion.draft(conversation.profile, context, code)
    return _panel(request, conversation, draft=draft, coupon_created=code)


@require_POST
@agent_required
def resend(request: HttpRequest, conversation_id: Any, message_id: int) -> HttpResponse:
    conversation = _get(conversation_id)
    message = get_object_or_404(
        Message, pk=message_id, conversation=conversation, author=Message.Author.AGENT
    )
    replies.retry(message)
    return _panel(request, conversation)
