"""Admin screens for journeys: list, diagram editor, counts, inspector, dry run."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.exceptions import ChannelError, DeliveryError
from omnichannel.journeys.dryrun import dry_run
from omnichannel.journeys.graph import InvalidGraph, validate_graph
from omnichannel.journeys.layout import BOX_HEIGHT, BOX_WIDTH, layout
from omnichannel.journeys.models import Enrollment, Journey, JourneyVersion, StepRun
from omnichannel.journeys.services import publish, set_status, validate_trigger
from omnichannel.journeys.stats import step_counts, unsent_reasons
from omnichannel.journeys.testsend import (
    SEND_STEP_TYPES,
    journey_step,
    send_step_test,
    step_channels,
)
from omnichannel.profiles.models import Profile


class StepForm(forms.Form):
    """Edit one step of the draft as JSON; the whole draft is validated on save."""

    key = forms.SlugField(label=_("step key"), max_length=64)
    body = forms.CharField(
        label=_("step"),
        widget=forms.Textarea(
            attrs={"rows": 8, "cols": 60, "class": "vLargeTextField"}
        ),
        help_text=_(
            'For example {"type": "wait", "duration": "PT1H", "next": "email_1"}.'
        ),
    )

    def clean_body(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["body"])
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                _("Invalid JSON at line %(line)s, column %(column)s: %(message)s"),
                params={
                    "line": error.lineno,
                    "column": error.colno,
                    "message": error.msg,
                },
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("A step is a JSON object with a 'type'."))
        return value


def draft_fingerprint(graph: Any) -> str:
    """Return a short hash of a draft graph, the same for equal graphs."""
    text = json.dumps(graph or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class JourneyForm(forms.ModelForm):
    """The journey form, aware that the diagram saves steps while it is open.

    The diagram's step editor saves the draft at once, while the "steps (draft)"
    field still contains the graph the page was opened with. A save that did not
    touch that field keeps the newer draft; a save that did is refused rather
    than undoing the other edits.
    """

    draft_loaded = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Journey
        fields = (
            "name",
            "slug",
            "description",
            "status",
            "trigger_type",
            "trigger_config",
            "keyed_by_object",
            "goal",
            "reentry_policy",
            "reentry_days",
            "draft_graph",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["draft_loaded"] = draft_fingerprint(self.instance.draft_graph)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk and "draft_graph" in cleaned:
            self._keep_newer_draft(cleaned)
        if (
            cleaned.get("status") == Journey.Status.ACTIVE
            and self.instance.current_version_id is None
        ):
            self.add_error(
                "status",
                _(
                    "A journey without a published version cannot be active. Save "
                    "it as a draft, then use the action “Publish the draft as a new "
                    "version”, which also makes it active."
                ),
            )
        return cleaned

    def _keep_newer_draft(self, cleaned: dict[str, Any]) -> None:
        loaded = cleaned.get("draft_loaded") or ""
        stored = (
            Journey.objects.filter(pk=self.instance.pk)
            .values_list("draft_graph", flat=True)
            .first()
        )
        if not loaded or draft_fingerprint(stored) == loaded:
            return
        if draft_fingerprint(cleaned["draft_graph"]) == loaded:
            cleaned["draft_graph"] = stored
            return
        self.add_error(
            "draft_graph",
            _(
                "The steps were changed in the diagram, or by someone else, after "
                "this page was opened, and this field was edited too. Reload the "
                "page and make your change to the steps again."
            ),
        )


class DryRunForm(forms.Form):
    customer = forms.CharField(
        label=_("customer"), help_text=_("Email address or profile id.")
    )


class StepTestSendForm(forms.Form):
    customer = forms.CharField(
        label=_("customer"),
        required=False,
        help_text=_(
            "Email address or profile id whose data fills the message; leave empty "
            "for a sample customer. The customer receives nothing."
        ),
    )
    address = forms.CharField(
        label=_("send to"),
        max_length=254,
        help_text=_("Your email address, or your phone number for SMS and WhatsApp."),
    )
    channel = forms.ChoiceField(label=_("channel"))

    def __init__(self, *args: Any, channels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(name, name) for name in channels]

    def clean_customer(self) -> Profile | None:
        value = self.cleaned_data["customer"].strip()
        if not value:
            return None
        profile = (
            Profile.objects.filter(pk=int(value)).first()
            if value.isdigit()
            else Profile.objects.filter(email__iexact=value).first()
        )
        if profile is None:
            raise forms.ValidationError(
                _("No customer with the email address or id %(value)s."),
                params={"value": value},
            )
        return profile

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        address = (cleaned.get("address") or "").strip()
        channel = cleaned.get("channel")
        if not address or not channel:
            return cleaned
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        from omnichannel.exceptions import InvalidIdentifier
        from omnichannel.profiles.normalise import normalise_phone

        if channel == "email":
            try:
                validate_email(address)
            except ValidationError:
                self.add_error(
                    "address",
                    _("%(address)s is not an email address; enter yours.")
                    % {"address": address},
                )
        elif channel in ("sms", "whatsapp"):
            try:
                cleaned["address"] = normalise_phone(address)
            except InvalidIdentifier:
                self.add_error(
                    "address",
                    _(
                        "%(address)s is not a phone number; enter yours with its "
                        "country code, such as +49 30 1234567."
                    )
                    % {"address": address},
                )
        return cleaned


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    form = JourneyForm
    list_display = (
        "name",
        "status",
        "trigger_type",
        "version_number",
        "active_runs",
        "converted_runs",
        "updated_at",
    )
    list_filter = ("status", "trigger_type")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("current_version", "created_at", "updated_at")
    actions = (
        "publish_selected",
        "pause_selected",
        "resume_selected",
        "archive_selected",
    )
    change_form_template = "omnichannel/admin/journey_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Journey]:
        return (
            super()
            .get_queryset(request)
            .select_related("current_version")
            .annotate(
                active_count=Count(
                    "enrollments", filter=Q(enrollments__status="active")
                ),
                converted_count=Count(
                    "enrollments", filter=Q(enrollments__status="converted")
                ),
            )
        )

    @admin.display(description=_("version"))
    def version_number(self, journey: Journey) -> str:
        return f"v{journey.current_version.number}" if journey.current_version else "-"

    @admin.display(description=_("in progress"), ordering="active_count")
    def active_runs(self, journey: Journey) -> int:
        return journey.active_count

    @admin.display(description=_("converted"), ordering="converted_count")
    def converted_runs(self, journey: Journey) -> int:
        return journey.converted_count

    def save_model(
        self, request: HttpRequest, journey: Journey, form: Any, change: bool
    ) -> None:
        if journey.draft_graph:
            try:
                validate_graph(journey.draft_graph)
            except InvalidGraph as error:
                self.message_user(
                    request,
                    _("The draft was saved but cannot be published yet: %(error)s")
                    % {"error": error},
                    messages.WARNING,
                )
        try:
            validate_trigger(journey)
        except InvalidGraph as error:
            self.message_user(
                request,
                _("The journey was saved but cannot be published yet: %(error)s")
                % {"error": error},
                messages.WARNING,
            )
        super().save_model(request, journey, form, change)

    # Actions

    def _bulk(
        self, request: HttpRequest, queryset: QuerySet[Journey], status: str
    ) -> None:
        done = 0
        for journey in queryset:
            try:
                set_status(journey, status)
                done += 1
            except ValueError as error:
                self.message_user(request, f"{journey}: {error}", messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)d journey updated.", "%(n)d journeys updated.", done)
            % {"n": done},
        )

    @admin.action(description=_("Publish the draft as a new version"))
    def publish_selected(
        self, request: HttpRequest, queryset: QuerySet[Journey]
    ) -> None:
        for journey in queryset:
            try:
                version = publish(journey, user=request.user)
            except InvalidGraph as error:
                self.message_user(request, f"{journey}: {error}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(journey)s published as version %(n)d.")
                    % {"journey": journey, "n": version.number},
                )

    @admin.action(description=_("Pause"))
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Journey]) -> None:
        self._bulk(request, queryset, Journey.Status.PAUSED)

    @admin.action(description=_("Resume"))
    def resume_selected(
        self, request: HttpRequest, queryset: QuerySet[Journey]
    ) -> None:
        self._bulk(request, queryset, Journey.Status.ACTIVE)

    @admin.action(description=_("Archive (ends runs in progress)"))
    def archive_selected(
        self, request: HttpRequest, queryset: QuerySet[Journey]
    ) -> None:
        self._bulk(request, queryset, Journey.Status.ARCHIVED)

    # Diagram, step editor and dry run

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/diagram/",
                wrap(self.diagram_view),
                name="omnichannel_journey_diagram",
            ),
            path(
                "<int:pk>/steps/<slug:key>/",
                wrap(self.step_view),
                name="omnichannel_journey_step",
            ),
            path(
                "<int:pk>/steps/",
                wrap(self.step_view),
                name="omnichannel_journey_step_add",
            ),
            path(
                "<int:pk>/steps/<slug:key>/test-send/",
                wrap(self.test_send_view),
                name="omnichannel_journey_test_send",
            ),
            path(
                "<int:pk>/dry-run/",
                wrap(self.dry_run_view),
                name="omnichannel_journey_dry_run",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        journey = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if journey is not None:
            extra_context.update(self._diagram_context(journey))
            extra_context["unsent_reasons"] = unsent_reasons(journey)
        return super().change_view(request, object_id, form_url, extra_context)

    def _diagram_context(self, journey: Journey) -> dict[str, Any]:
        graph = journey.draft_graph or (
            journey.current_version.graph if journey.current_version else {}
        )
        boxes, arrows, width, height = layout(graph)
        counts = step_counts(journey)
        for box in boxes:
            box.counts = counts.get(box.key, {})
        return {
            "journey": journey,
            "boxes": boxes,
            "arrows": arrows,
            "diagram_width": width,
            "diagram_height": height,
            "box_width": BOX_WIDTH,
            "box_height": BOX_HEIGHT,
            "draft_differs": bool(
                journey.current_version
                and journey.current_version.graph != journey.draft_graph
            ),
        }

    def diagram_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_view_permission(request, journey):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "omnichannel/admin/journey_diagram.html",
            self._diagram_context(journey),
        )

    def step_view(
        self, request: HttpRequest, pk: int, key: str | None = None
    ) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_change_permission(request, journey):
            raise PermissionDenied
        graph = json.loads(
            json.dumps(journey.draft_graph or {"start": "", "steps": {}})
        )
        graph.setdefault("steps", {})
        if (
            request.method == "POST"
            and request.POST.get("delete")
            and key in graph["steps"]
        ):
            del graph["steps"][key]
            if graph.get("start") == key:
                graph["start"] = next(iter(graph["steps"]), "")
            journey.draft_graph = graph
            journey.save(update_fields=["draft_graph", "updated_at"])
            return self.diagram_view(request, pk)
        if request.method == "POST":
            form = StepForm(request.POST)
            if form.is_valid():
                new_key = form.cleaned_data["key"]
                if key and key != new_key:
                    graph["steps"].pop(key, None)
                graph["steps"][new_key] = form.cleaned_data["body"]
                if not graph.get("start"):
                    graph["start"] = new_key
                problem = None
                try:
                    validate_graph(graph)
                except InvalidGraph as error:
                    problem = str(error)
                journey.draft_graph = graph
                journey.save(update_fields=["draft_graph", "updated_at"])
                context = self._diagram_context(journey)
                context["problem"] = problem
                return TemplateResponse(
                    request, "omnichannel/admin/journey_diagram.html", context
                )
        else:
            step = graph["steps"].get(key, {"type": "wait", "duration": "PT1H"})
            form = StepForm(
                initial={"key": key or "", "body": json.dumps(step, indent=2)}
            )
        return TemplateResponse(
            request,
            "omnichannel/admin/journey_step_form.html",
            {
                "journey": journey,
                "form": form,
                "key": key,
                "can_test_send": bool(key)
                and graph["steps"].get(key, {}).get("type") in SEND_STEP_TYPES,
            },
        )

    def dry_run_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_view_permission(request, journey):
            raise PermissionDenied
        form = DryRunForm(request.POST or None)
        steps = None
        error = None
        if request.method == "POST" and form.is_valid():
            value = form.cleaned_data["customer"].strip()
            profile = (
                Profile.objects.filter(pk=int(value)).first()
                if value.isdigit()
                else Profile.objects.filter(email=value.lower()).first()
            )
            if profile is None:
                error = _("No customer with the email address or id %(value)s.") % {
                    "value": value
                }
            elif journey.current_version is None:
                error = _("Publish the journey before a dry run.")
            else:
                steps = dry_run(journey, profile)
        context = {
            **self.admin_site.each_context(request),
            "journey": journey,
            "form": form,
            "steps": steps,
            "error": error,
            "opts": self.model._meta,
            "title": _("Dry run of %(journey)s") % {"journey": journey},
        }
        return TemplateResponse(
            request, "omnichannel/admin/journey_dry_run.html", context
        )

    def test_send_view(self, request: HttpRequest, pk: int, key: str) -> HttpResponse:
        """Send a step's message to a staff member as a chosen customer gets it."""
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_change_permission(request, journey):
            raise PermissionDenied
        try:
            channels = list(step_channels(journey_step(journey, key)))
        except DeliveryError as error:
            raise Http404(str(error)) from None
        user_email = getattr(request.user, "email", "")
        form = StepTestSendForm(
            request.POST or None,
            channels=channels,
            initial={"address": user_email, "channel": channels[0]},
        )
        error = None
        status = 200
        if request.method == "POST":
            if form.is_valid():
                address = form.cleaned_data["address"].strip()
                try:
                    send_step_test(
                        journey,
                        key,
                        address,
                        customer=form.cleaned_data["customer"],
                        channel=form.cleaned_data["channel"],
                    )
                except ChannelError as problem:
                    error = _("The test message was not sent: %(error)s") % {
                        "error": problem
                    }
                    status = 400
                else:
                    self.log_change(
                        request, journey, f"Sent a test of step {key} to staff."
                    )
                    self.message_user(
                        request,
                        _("A test of step %(key)s was sent to %(address)s.")
                        % {"key": key, "address": address},
                    )
                    return HttpResponseRedirect(
                        reverse("admin:omnichannel_journey_change", args=[journey.pk])
                    )
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "journey": journey,
            "key": key,
            "form": form,
            "error": error,
            "opts": self.model._meta,
            "title": _("Test send of step %(key)s") % {"key": key},
        }
        return TemplateResponse(
            request, "omnichannel/admin/journey_test_send.html", context, status=status
        )


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = ("at", "step_key", "step_type", "outcome", "reason", "details")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    """The inspector: one customer's path through a journey, with timestamps."""

    list_display = (
        "profile",
        "journey",
        "status",
        "current_step",
        "next_run_at",
        "entered_at",
        "exit_reason",
    )
    list_filter = ("status", "journey", "exit_reason")
    search_fields = ("profile__email", "profile__phone", "object_id")
    raw_id_fields = ("profile",)
    readonly_fields = [f.name for f in Enrollment._meta.fields]
    inlines = [StepRunInline]
    list_select_related = ("profile", "journey")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(JourneyVersion)
class JourneyVersionAdmin(admin.ModelAdmin):
    list_display = ("journey", "number", "published_at", "published_by")
    readonly_fields = ("journey", "number", "graph", "published_at", "published_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
