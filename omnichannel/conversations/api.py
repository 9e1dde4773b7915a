"""REST API of the chat widget and the customer context endpoint.

The widget starts a conversation and receives a token once. Every later request
sends it as ``Authorization: Bearer <token>`` (the event stream may send it as the
``token`` query parameter, because EventSource cannot set headers) from the browser
whose visitor cookie started the conversation. Errors are JSON objects with
``detail`` (a sentence) and ``code`` (stable); validation errors add ``errors``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from omnichannel.conf import app_settings
from omnichannel.conversations import services
from omnichannel.conversations.customer import customer_context
from omnichannel.conversations.models import Conversation, Message
from omnichannel.conversations.throttles import IPRateThrottle, VisitorRateThrottle
from omnichannel.exceptions import ConversationClosed, InvalidIdentifier, InvalidMessage
from omnichannel.profiles.models import Identity, Profile
from omnichannel.profiles.normalise import normalise_email, normalise_phone
from omnichannel.rest import body_too_large

STREAM_POLL_SECONDS = 1.0
STREAM_KEEPALIVE_SECONDS = 15.0
STREAM_RETRY_MILLISECONDS = 2000


# Errors


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = _("The request conflicts with the conversation's state.")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render errors as ``{"detail", "code"[, "errors"]}``."""
    if isinstance(exc, RequestDataTooBig):
        exc = body_too_large()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, InvalidMessage):
        exc = exceptions.ValidationError({exc.field: [exc.message]}, code=exc.code)
    elif isinstance(exc, ConversationClosed):
        exc = Conflict(str(exc), code="conversation_closed")
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": str(_("The request has invalid fields; see errors.")),
            "code": "invalid",
            "errors": exc.detail,
        }
        return response
    code = exc.get_codes()
    response.data = {
        "detail": str(exc.detail),
        "code": code if isinstance(code, str) else exc.default_code,
    }
    return response


# Authentication of the visitor


class ChatTokenAuthentication(BaseAuthentication):
    """Finds the conversation of the visitor token; ``request.auth`` is it.

    ``request.user`` stays the shop's own user (anonymous for most visitors).
    """

    def authenticate(self, request: Request) -> tuple[Any, Conversation] | None:
        token = self._token(request)
        if token is None:
            return None
        conversation = services.conversation_for_token(token)
        if conversation is None:
            raise exceptions.AuthenticationFailed(
                _("The chat token is not valid. Start a new conversation."),
                code="invalid_token",
            )
        return request._request.user, conversation

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="chat"'

    def _token(self, request: Request) -> str | None:
        header = get_authorization_header(request).split()
        if header and header[0].lower() == b"bearer":
            if len(header) != 2:
                raise exceptions.AuthenticationFailed(
                    _("Send the header as 'Authorization: Bearer <token>'."),
                    code="invalid_token",
                )
            return header[1].decode("latin-1")
        view = request.parser_context.get("view") if request.parser_context else None
        if getattr(view, "token_in_query", False) and request.method == "GET":
            return request.query_params.get("token") or None
        return None


class ShopUserAuthentication(BaseAuthentication):
    """Keeps the user the shop's session logged in, without DRF's CSRF check.

    Starting a conversation accepts only JSON, which a cross-site form cannot
    send, so the CSRF token is not needed there.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        user = getattr(request._request, "user", None)
        if user is not None and user.is_authenticated:
            return user, None
        return None


class VisitorOwnsConversation(BasePermission):
    """The token's conversation is the one in the URL, and the visitor cookie is
    the one the conversation was started with."""

    def has_permission(self, request: Request, view: Any) -> bool:
        conversation = request.auth
        if not isinstance(conversation, Conversation):
            raise exceptions.NotAuthenticated(
                _(
                    "Send the token you received when the conversation started, as "
                    "'Authorization: Bearer <token>'."
                )
            )
        if conversation.uuid != _uuid_or_none(view.kwargs.get("conversation_id")):
            raise exceptions.NotFound(
                _("No conversation with this id belongs to this token."),
                code="conversation_not_found",
            )
        visitor_id = getattr(request._request, "omnichannel_visitor_id", None)
        if not services.visitor_matches(conversation, visitor_id):
            raise exceptions.PermissionDenied(
                _(
                    "This conversation belongs to another browser: the visitor "
                    "cookie does not match the token. Start a new conversation."
                ),
                code="visitor_mismatch",
            )
        return True


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class ChatTokenScheme(OpenApiAuthenticationExtension):
    target_class = "omnichannel.conversations.api.ChatTokenAuthentication"
    name = "chatToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The token returned when the conversation started. It "
            "works only together with the visitor cookie of the same browser.",
        }


# Serializers


class ChatErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("What went wrong and what to do."))
    code = serializers.CharField(help_text=_("A stable machine-readable code."))
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Field name to messages, for validation errors."),
    )


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: _("Invalid input; see errors."),
        401: _("The token is missing or not valid."),
        403: _("The visitor cookie does not match the token."),
        404: _("No such conversation for this token."),
        409: _("The conversation is closed."),
        415: _("The body is not JSON."),
        429: _("Too many requests; see Retry-After."),
    }
    return {
        code: OpenApiResponse(ChatErrorSerializer, description=descriptions[code])
        for code in statuses
    }


# Every chat poll builds these two serializers. They declare their fields, with the
# labels and choices of the model fields, instead of deriving them from the model as
# a ModelSerializer does on each instantiation. Serialising 1,000 polls took about
# a third of the time this way (1.1 to 1.4 ms against 3.1 to 3.4 ms per poll).


def _label(model: Any, name: str) -> Any:
    """Return the model field's label as a ModelSerializer builds it, still lazy."""
    return capfirst(model._meta.get_field(name).verbose_name)


class MessageSerializer(serializers.Serializer):
    id = serializers.BigIntegerField(label="ID", read_only=True)
    author = serializers.ChoiceField(choices=Message.Author.choices, read_only=True)
    author_name = serializers.CharField(read_only=True)
    body = serializers.CharField(
        label=_label(Message, "body"),
        read_only=True,
        style={"base_template": "textarea.html"},
    )
    channel = serializers.ChoiceField(
        choices=Message._meta.get_field("channel").choices, read_only=True
    )
    created_at = serializers.DateTimeField(
        label=_label(Message, "created_at"), read_only=True
    )


class ConversationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    status = serializers.ChoiceField(
        choices=Conversation.Status.choices, read_only=True
    )
    handler = serializers.ChoiceField(
        choices=Conversation.Handler.choices,
        label=_label(Conversation, "handler"),
        read_only=True,
    )
    created_at = serializers.DateTimeField(
        label=_label(Conversation, "created_at"), read_only=True
    )
    closed_at = serializers.DateTimeField(
        allow_null=True, label=_label(Conversation, "closed_at"), read_only=True
    )


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings, not numbers turned into text."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class TextFieldScheme(OpenApiSerializerFieldExtension):
    """Documents a message text with the length limit in force."""

    target_class = "omnichannel.conversations.api.TextField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": int(app_settings.CHAT_MESSAGE_MAX_LENGTH),
            "pattern": r"\S",
        }


def _body_field(**kwargs: Any) -> serializers.CharField:
    return TextField(
        trim_whitespace=False,
        help_text=_("Plain text; the limit is CHAT_MESSAGE_MAX_LENGTH characters."),
        **kwargs,
    )


class StartSerializer(serializers.Serializer):
    message = _body_field(required=False)

    def validate_message(self, value: str) -> str:
        return _clean(value)


class StartedSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    token = serializers.CharField(
        help_text=_("Send it as 'Authorization: Bearer <token>'; it is shown once.")
    )
    messages = MessageSerializer(many=True)


class NewMessageSerializer(serializers.Serializer):
    body = _body_field()

    def validate_body(self, value: str) -> str:
        return _clean(value)


class MessagePageSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    messages = MessageSerializer(many=True)
    has_more = serializers.BooleanField(
        help_text=_("More messages follow; ask again with the last id as 'after'.")
    )


def _clean(value: str) -> str:
    try:
        return services.clean_body(
            value, max_length=int(app_settings.CHAT_MESSAGE_MAX_LENGTH)
        )
    except InvalidMessage as error:
        raise serializers.ValidationError(error.message, code=error.code) from None


# Views of the widget


class ChatView(APIView):
    """Base of the widget's views: JSON in and out, rate limits, the error format.

    Rate limits are checked before the token, so failed attempts count too.
    """

    authentication_classes = [ChatTokenAuthentication]
    permission_classes = [VisitorOwnsConversation]
    throttle_classes = [VisitorRateThrottle, IPRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    throttle_scope = "read"
    token_in_query = False

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.check_throttles(request)
        self._throttles_checked = True
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request: Request) -> None:
        if not getattr(self, "_throttles_checked", False):
            super().check_throttles(request)

    @property
    def conversation(self) -> Conversation:
        return self.request.auth


MAX_MESSAGE_ID = 2**63 - 1


def _after(request: Request, *, last_event_id: bool = False) -> int:
    """Return the message id after which to read; the event stream's Last-Event-ID
    header, sent by a reconnecting browser, wins over the ``after`` parameter."""
    raw = request.query_params.get("after")
    if last_event_id and request.headers.get("Last-Event-ID"):
        raw = request.headers["Last-Event-ID"]
    if raw in (None, ""):
        return 0
    try:
        after = int(raw)
    except (TypeError, ValueError):
        after = -1
    if not 0 <= after <= MAX_MESSAGE_ID:
        raise exceptions.ValidationError(
            {"after": [_("Must be a message id: a whole number of 0 or more.")]}
        )
    return after


class ConversationStartView(ChatView):
    """Start a conversation for the visitor of this browser."""

    authentication_classes = [ShopUserAuthentication]
    permission_classes: list = []
    throttle_scope = "start"

    @extend_schema(
        operation_id="chat_conversation_start",
        request=StartSerializer,
        responses={201: StartedSerializer, **_errors(400, 415, 429)},
        tags=["chat"],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        from omnichannel.profiles.services import profile_for_request

        serializer = StartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request
        profile = profile_for_request(django_request, create=True)
        if profile is None:
            raise ImproperlyConfigured(
                "The request has no visitor cookie; add "
                "omnichannel.middleware.OmnichannelMiddleware to MIDDLEWARE."
            )
        conversation, token = services.start_conversation(
            profile,
            visitor_id=getattr(django_request, "omnichannel_visitor_id", ""),
            body=serializer.validated_data.get("message"),
        )
        data = {
            "conversation": ConversationSerializer(conversation).data,
            "token": token,
            "messages": MessageSerializer(
                services.messages_after(conversation), many=True
            ).data,
        }
        return Response(data, status=status.HTTP_201_CREATED)


class ConversationDetailView(ChatView):
    """The visitor's conversation: its status and whether a bot or a human replies."""

    @extend_schema(
        operation_id="chat_conversation_detail",
        responses={200: ConversationSerializer, **_errors(401, 403, 404, 429)},
        tags=["chat"],
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        return Response(ConversationSerializer(self.conversation).data)


class MessagesView(ChatView):
    """Read messages after a given id, or send one."""

    def get_throttles(self) -> list:
        self.throttle_scope = "message" if self.request.method == "POST" else "read"
        return super().get_throttles()

    @extend_schema(
        operation_id="chat_messages_list",
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Return messages with an id above this one (default 0).",
            )
        ],
        responses={
            200: MessagePageSerializer,
            **_errors(400, 401, 403, 404, 429),
        },
        tags=["chat"],
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        after = _after(request)
        page = services.messages_after(
            self.conversation, after, limit=services.MAX_PAGE + 1
        )
        data = {
            "conversation": ConversationSerializer(self.conversation).data,
            "messages": MessageSerializer(page[: services.MAX_PAGE], many=True).data,
            "has_more": len(page) > services.MAX_PAGE,
        }
        return Response(data)

    @extend_schema(
        operation_id="chat_messages_create",
        request=NewMessageSerializer,
        responses={
            201: MessageSerializer,
            **_errors(400, 401, 403, 404, 409, 415, 429),
        },
        tags=["chat"],
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        serializer = NewMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.add_customer_message(
            self.conversation, serializer.validated_data["body"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class EventStreamRenderer(BaseRenderer):
    """Renders errors of the event stream as one ``error`` event."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()


class MessageStreamView(ChatView):
    """New messages as server-sent events, for ``CHAT_STREAM_SECONDS``.

    Each message is one ``message`` event whose id is the message id, so the
    browser's automatic reconnection resumes after the last one it received (the
    Last-Event-ID header). A ``closed`` event ends the stream of a closed
    conversation.
    """

    renderer_classes = [EventStreamRenderer, JSONRenderer]
    token_in_query = True

    @extend_schema(
        operation_id="chat_messages_stream",
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Send messages with an id above this one; the "
                "Last-Event-ID header wins over it.",
            ),
            OpenApiParameter(
                "token",
                OpenApiTypes.STR,
                description="The conversation token, for clients that cannot send "
                "the Authorization header.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiTypes.STR,
            **_errors(400, 401, 403, 404, 429),
        },
        tags=["chat"],
    )
    def get(self, request: Request, conversation_id: str) -> StreamingHttpResponse:
        after = _after(request, last_event_id=True)
        response = StreamingHttpResponse(
            stream_messages(self.conversation.pk, after),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


def _event(message: Message) -> str:
    data = json.dumps(MessageSerializer(message).data)
    return f"id: {message.pk}\nevent: message\ndata: {data}\n\n"


def stream_messages(conversation_pk: int, after: int) -> Iterator[str]:
    """Yield events for messages after ``after`` until the stream time is up."""
    deadline = time.monotonic() + float(app_settings.CHAT_STREAM_SECONDS)
    last_sent = time.monotonic()
    yield f"retry: {STREAM_RETRY_MILLISECONDS}\n\n"
    while True:
        messages = list(
            Message.objects.filter(conversation_id=conversation_pk, id__gt=after)
            .select_related("agent")
            .order_by("id")[: services.MAX_PAGE]
        )
        for message in messages:
            yield _event(message)
            after = message.pk
        if messages:
            last_sent = time.monotonic()
        state = (
            Conversation.objects.filter(pk=conversation_pk)
            .values_list("status", flat=True)
            .first()
        )
        if state != Conversation.Status.OPEN:
            yield "event: closed\ndata: {}\n\n"
            return
        if len(messages) == services.MAX_PAGE:
            continue
        if time.monotonic() >= deadline:
            return
        if time.monotonic() - last_sent >= STREAM_KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        time.sleep(STREAM_POLL_SECONDS)


# Customer context, for the console and other support tools


class CanViewProfiles(BasePermission):
    message = _(
        "Only active staff with the 'view profile' permission can read customer "
        "context."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and user.has_perm("omnichannel.view_profile")
        )


def _live(profile: Profile) -> Profile:
    seen = set()
    while profile.merged_into_id is not None and profile.pk not in seen:
        seen.add(profile.pk)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


class CustomerContextView(APIView):
    """A customer's lifetime value, RFM group, recent orders, open cart, segments,
    journeys in progress and consents."""

    permission_classes = [CanViewProfiles]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Any:
        return exception_handler

    @extend_schema(
        operation_id="customer_context",
        responses={200: OpenApiTypes.OBJECT, **_errors(404)},
        tags=["customers"],
    )
    def get(self, request: Request, profile_id: str | None = None) -> Response:
        profile = self._profile(request, profile_id)
        return Response(customer_context(_live(profile)))

    def _profile(self, request: Request, profile_id: str | None) -> Profile:
        if profile_id is not None:
            profile = Profile.objects.filter(uuid=profile_id).first()
        else:
            profile = self._by_identifier(request)
        if profile is None:
            raise exceptions.NotFound(
                _("No customer matches this id, email or phone number."),
                code="customer_not_found",
            )
        return profile

    def _by_identifier(self, request: Request) -> Profile | None:
        email = request.query_params.get("email")
        phone = request.query_params.get("phone")
        try:
            if email:
                kind, value = Identity.Kind.EMAIL, normalise_email(email)
            elif phone:
                kind, value = Identity.Kind.PHONE, normalise_phone(phone)
            else:
                raise exceptions.ValidationError(
                    {"email": [_("Give an email or a phone parameter.")]}
                )
        except InvalidIdentifier as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        identity = (
            Identity.objects.filter(kind=kind, value=value)
            .select_related("profile")
            .first()
        )
        return identity.profile if identity is not None else None


class CustomerContextLookupView(CustomerContextView):
    """The customer context of the profile with a given email or phone number."""

    @extend_schema(
        operation_id="customer_context_lookup",
        parameters=[
            OpenApiParameter(
                "email", OpenApiTypes.STR, description="Look up by email."
            ),
            OpenApiParameter(
                "phone", OpenApiTypes.STR, description="Look up by phone number."
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, **_errors(400, 404)},
        tags=["customers"],
    )
    def get(self, request: Request, profile_id: str | None = None) -> Response:
        return super().get(request)
