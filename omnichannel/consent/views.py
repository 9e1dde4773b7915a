"""Pages customers reach from messages: unsubscribe, preference centre, opt-in
confirmation.

A GET never changes consent, because mail scanners and link previews follow links;
only a POST does. The unsubscribe URL takes the RFC 8058 one-click POST without
login, cookies or CSRF token: the signed token in the URL is the authorisation.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from omnichannel.consent.double_opt_in import confirm_opt_in, read_opt_in_token
from omnichannel.consent.forms import PreferenceCentreForm
from omnichannel.consent.services import has_consent
from omnichannel.consent.unsubscribe import (
    ONE_CLICK_BODY,
    apply_unsubscribe,
    preference_centre_url,
    read_preferences_token,
    read_unsubscribe_token,
)
from omnichannel.exceptions import InvalidToken
from omnichannel.profiles.models import Profile
from omnichannel.security.ratelimit import rate_limit

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client address from REMOTE_ADDR.

    Behind a proxy, the project must set REMOTE_ADDR from the proxy's header.
    """
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")[:500]


def _private(response: HttpResponse) -> HttpResponse:
    # The URL contains a token, so keep it out of other sites' referrers and out of
    # search engines. "same-origin" rather than "no-referrer": under "no-referrer"
    # browsers send "Origin: null" with the page's own form, which CSRF refuses.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@method_decorator([csrf_exempt, never_cache], name="dispatch")
@method_decorator(rate_limit("consent_pages"), name="dispatch")
class UnsubscribeView(View):
    """GET shows a confirmation page; POST unsubscribes (one-click or the page)."""

    http_method_names = ["get", "post", "head"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.omnichannel_track = False  # type: ignore[attr-defined]
        return _private(super().dispatch(request, *args, **kwargs))

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            target = read_unsubscribe_token(token)
        except InvalidToken:
            return _invalid_link(request)
        context = {
            "target": target,
            "already": not has_consent(
                target.profile, target.channel, target.purpose, topic=target.topic
            ),
            "preferences_url": preference_centre_url(target.profile),
        }
        return render(request, "omnichannel/consent/unsubscribe.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            target = read_unsubscribe_token(token)
        except InvalidToken:
            logger.warning("rejected an unsubscribe POST with an invalid token")
            return _invalid_link(request)
        one_click = request.body.decode("latin-1").strip() == ONE_CLICK_BODY
        apply_unsubscribe(
            target,
            method="one-click" if one_click else "page",
            ip_address=client_ip(request),
            user_agent=user_agent(request),
        )
        context = {
            "target": target,
            "preferences_url": preference_centre_url(target.profile),
        }
        return render(request, "omnichannel/consent/unsubscribed.html", context)


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "omnichannel/consent/invalid_link.html", status=400)


@method_decorator(never_cache, name="dispatch")
@method_decorator(rate_limit("consent_pages"), name="dispatch")
class PreferenceCentreView(View):
    """Let a customer choose channels, topics and stated preferences.

    Reached with a signed token from a message, or signed in as the shop user.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.omnichannel_track = False  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if kwargs.get("token") is None and not (user and user.is_authenticated):
            # Without a link from a message, the page is the signed-in customer's.
            return _private(redirect_to_login(request.get_full_path()))
        return _private(super().dispatch(request, *args, **kwargs))

    def _profile(self, request: HttpRequest, token: str | None) -> Profile | None:
        if token is not None:
            return read_preferences_token(token)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return Profile.objects.filter(user=user, merged_into__isnull=True).first()

    def get(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        try:
            profile = self._profile(request, token)
        except InvalidToken:
            return _invalid_link(request)
        if profile is None or profile.erased_at is not None:
            return _invalid_link(request)
        form = PreferenceCentreForm(profile=profile)
        return self._render(request, form, saved=request.GET.get("saved") == "1")

    def post(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        try:
            profile = self._profile(request, token)
        except InvalidToken:
            return _invalid_link(request)
        if profile is None or profile.erased_at is not None:
            return _invalid_link(request)
        form = PreferenceCentreForm(request.POST, profile=profile)
        if not form.is_valid():
            return self._render(request, form, saved=False, status=400)
        form.save(ip_address=client_ip(request), user_agent=user_agent(request))
        return HttpResponseRedirect(request.path + "?saved=1")

    def _render(
        self,
        request: HttpRequest,
        form: PreferenceCentreForm,
        *,
        saved: bool,
        status: int = 200,
    ) -> HttpResponse:
        context = {"form": form, "profile": form.profile, "saved": saved}
        return render(
            request, "omnichannel/consent/preferences.html", context, status=status
        )


@method_decorator(never_cache, name="dispatch")
@method_decorator(rate_limit("consent_pages"), name="dispatch")
class ConfirmOptInView(View):
    """GET shows a confirm button; POST records the consent."""

    http_method_names = ["get", "post", "head"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.omnichannel_track = False  # type: ignore[attr-defined]
        return _private(super().dispatch(request, *args, **kwargs))

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            opt_in = read_opt_in_token(token)
        except InvalidToken as error:
            return _invalid_opt_in(request, error)
        return render(request, "omnichannel/consent/confirm.html", {"opt_in": opt_in})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            opt_in = read_opt_in_token(token)
        except InvalidToken as error:
            return _invalid_opt_in(request, error)
        opt_in = confirm_opt_in(
            opt_in, ip_address=client_ip(request), user_agent=user_agent(request)
        )
        return render(request, "omnichannel/consent/confirmed.html", {"opt_in": opt_in})


def _invalid_opt_in(request: HttpRequest, error: InvalidToken) -> HttpResponse:
    return render(
        request,
        "omnichannel/consent/confirm_invalid.html",
        {"expired": error.expired},
        status=400,
    )
