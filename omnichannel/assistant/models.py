"""Token usage per request, the MCP audit log and the weekly insights."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import APIKey


class ModelUsage(models.Model):
    """One request to the model, with the tokens it cost; the daily budget sums them."""

    class Outcome(models.TextChoices):
        OK = "ok", _("answered")
        FAILED = "failed", _("failed")

    day = models.DateField(_("day (UTC)"), db_index=True)
    feature = models.CharField(_("feature"), max_length=32)
    model = models.CharField(_("model"), max_length=200)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.OK
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("model usage")
        verbose_name_plural = _("model usage")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.feature} {self.model} {self.total_tokens} tokens"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class McpCall(models.Model):
    """One tool call made through the MCP server, with the API key that made it."""

    api_key = models.ForeignKey(
        APIKey,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("API key"),
    )
    key_prefix = models.CharField(_("key prefix"), max_length=16)
    tool = models.CharField(_("tool"), max_length=100)
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    result_rows = models.PositiveIntegerField(_("rows returned"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    called_at = models.DateTimeField(_("called at"), default=timezone.now)

    class Meta:
        verbose_name = _("MCP call")
        verbose_name_plural = _("MCP calls")
        ordering = ["-called_at", "-id"]
        indexes = [models.Index(fields=["called_at"], name="omni_mcpcall_at")]

    def __str__(self) -> str:
        return f"{self.tool} by {self.key_prefix}"


class WeeklyInsight(models.Model):
    """What changed in one week, per channel and journey: the numbers and the text."""

    class Author(models.TextChoices):
        MODEL = "model", _("written by the model")
        NUMBERS = "numbers", _("numbers only")

    week_start = models.DateField(_("week starting"), unique=True)
    metrics = models.JSONField(_("metrics"), default=dict)
    summary = models.TextField(_("summary"))
    author = models.CharField(
        _("written by"), max_length=8, choices=Author.choices, default=Author.NUMBERS
    )
    model = models.CharField(_("model"), max_length=200, blank=True)
    note = models.CharField(
        _("note"),
        max_length=300,
        blank=True,
        help_text=_("Why the numbers-only text was used, when a model is set up."),
    )
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        verbose_name = _("weekly insight")
        verbose_name_plural = _("weekly insights")
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Week of {self.week_start:%Y-%m-%d}"
