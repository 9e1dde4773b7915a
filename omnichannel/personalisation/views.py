"""Visitor-facing views: placement fragments, banner clicks, events, pop-up forms."""

from __future__ import annotations

import json
import logging
from typing import Any

from django import forms
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from omnichannel.exceptions import InvalidIdentifier, ProfileErased
from omnichannel.personalisation import services
from omnichannel.personalisation.models import Banner, Popup

logger = logging.getLogger(__name__)

MAX_BANNERS_PER_REPORT = 20


def private(response: HttpResponse) -> HttpResponse:
    """Keep a per-visitor response out of shared caches."""
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_GET
def placement_fragment(request: HttpRequest, key: str) -> HttpResponse:
    """Return the visitor's banner for one placement, for htmx to swap in."""
    request.omnichannel_track = False  # type: ignore[attr-defined]
    html = services.render_placement(request, key)
    return private(HttpResponse(html))


@require_GET
def banner_click(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a click on a banner and redirect to its link.

    The target is read from the banner, never from the request, so the view
    cannot be used to redirect anywhere else.
    """
    banner = get_object_or_404(Banner.objects.select_related("placement"), pk=pk)
    if not banner.link_url:
        return HttpResponseBadRequest(_("This banner has no link."))
    request.omnichannel_track = False  # type: ignore[attr-defined]
    try:
        services.record_banner_event(request, banner, "banner_clicked")
    except Exception:
        # The visitor asked for the page behind the banner; a lost click is better
        # than an error page.
        logger.exception("click on banner %s not recorded", banner.pk)
    return private(HttpResponseRedirect(banner.link_url))


@csrf_exempt
@require_POST
def record_events(request: HttpRequest) -> HttpResponse:
    """Record banner impressions and pop-up showings the browser reports.

    Body: ``{"banners": [ids], "popup": "key"}``. CSRF protection is off because
    ``navigator.sendBeacon`` cannot send the token; a forged report can only add
    views to the sender's own visitor cookie.
    """
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return _error('The body must be JSON such as {"banners": [1, 2]}.', "json")
    if not isinstance(payload, dict):
        return _error("The body must be a JSON object.", "json")
    banner_ids = payload.get("banners", [])
    popup_key = payload.get("popup")
    if not isinstance(banner_ids, list) or not all(
        isinstance(value, int) and not isinstance(value, bool) for value in banner_ids
    ):
        return _error("banners must be a list of banner ids.", "banners")
    if len(banner_ids) > MAX_BANNERS_PER_REPORT:
        return _error(
            f"banners must list at most {MAX_BANNERS_PER_REPORT} ids.", "banners"
        )
    if popup_key is not None and not isinstance(popup_key, str):
        return _error("popup must be the key of a pop-up.", "popup")

    request.omnichannel_track = False  # type: ignore[attr-defined]
    banners = Banner.objects.filter(pk__in=set(banner_ids)).select_related("placement")
    recorded = 0
    try:
        for banner in banners:
            services.record_banner_event(request, banner, "banner_viewed")
            recorded += 1
        if popup_key:
            popup = Popup.objects.filter(key=popup_key[:64]).first()
            if popup is not None:
                services.record_popup_event(request, popup, "popup_viewed")
                recorded += 1
    except ProfileErased:
        return private(JsonResponse({"recorded": 0}))
    return private(JsonResponse({"recorded": recorded}))


def _error(detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=400)


class CaptureForm(forms.Form):
    email = forms.EmailField(max_length=254)
    consent = forms.BooleanField(
        error_messages={"required": _("Tick the box to agree to receive our emails.")}
    )
    preference = forms.CharField(required=False, max_length=200)
    page = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, popup: Popup, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.popup = popup

    def clean_preference(self) -> str:
        value = self.cleaned_data.get("preference", "").strip()
        if value and value not in self.popup.preference_choices:
            raise forms.ValidationError(
                _("Choose one of the answers offered."), code="invalid_choice"
            )
        return value


@require_POST
def popup_submit(request: HttpRequest, key: str) -> HttpResponse:
    """Store a pop-up's email form: the email, consent with proof, a preference.

    htmx requests get the thanks or the form with its errors as a fragment;
    others are redirected back to the page, or get a 400 page listing the errors.
    """
    popup = services.live_popup(key)
    if popup is None or not popup.collect_email:
        return HttpResponseBadRequest(_("This pop-up does not take sign-ups now."))
    request.omnichannel_track = False  # type: ignore[attr-defined]
    form = CaptureForm(request.POST, popup=popup)
    errors: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.capture_email(
                request,
                popup,
                email=data["email"],
                preference=data["preference"],
                page=data["page"],
            )
        except InvalidIdentifier as error:
            errors["email"] = str(error)
        except (ProfileErased, ValueError) as error:
            errors["__all__"] = str(error)
    else:
        errors = {field: messages[0] for field, messages in form.errors.items()}

    if not errors:
        if request.headers.get("HX-Request"):
            html = render_to_string(
                "omnichannel/personalisation/popup_thanks.html", request=request
            )
            return private(HttpResponse(html))
        back = request.POST.get("page") or "/"
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}
        ):
            back = "/"
        return HttpResponseRedirect(back)

    context = services.popup_context(request, popup, errors=errors, values=request.POST)
    html = render_to_string(
        "omnichannel/personalisation/popup_form.html", context, request=request
    )
    # htmx swaps only successful responses, so the form with errors comes as a 200.
    status = 200 if request.headers.get("HX-Request") else 400
    return private(HttpResponse(html, status=status))
