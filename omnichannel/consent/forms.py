"""The preference centre form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from omnichannel.consent.models import (
    PHONE_CHANNELS,
    Channel,
    ConsentWording,
    Purpose,
    Topic,
)
from omnichannel.consent.services import consent_state, set_consent
from omnichannel.profiles.models import Identity, Profile

DEVICE_CHANNELS = (Channel.PUSH, Channel.WEB_PUSH)
MARKETING_CHANNELS = (Channel.EMAIL, *PHONE_CHANNELS, *DEVICE_CHANNELS)


class PreferenceCentreForm(forms.Form):
    """Marketing consent per channel, topics, and removal of stated preferences.

    Only channels the customer can be reached on are shown, plus any channel with
    consent in force, so it can be switched off.
    """

    def __init__(self, *args: Any, profile: Profile, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.states = consent_state(profile, purpose=Purpose.MARKETING)
        self.channels = [c for c in MARKETING_CHANNELS if self._shows(c)]
        self.wordings: dict[str, ConsentWording | None] = {}
        for channel in self.channels:
            wording = (
                ConsentWording.objects.filter(
                    channel=channel, purpose=Purpose.MARKETING
                )
                .order_by("-created_at")
                .first()
            )
            self.wordings[channel] = wording
            self.fields[f"channel_{channel}"] = forms.BooleanField(
                required=False,
                initial=self.states[channel].granted,
                label=Channel(channel).label,
                help_text=wording.text if wording else "",
            )
        self.topics = list(Topic.objects.filter(is_active=True))
        for topic in self.topics:
            opted_out = any(
                topic.slug in self.states[c].topics_opted_out for c in self.channels
            )
            self.fields[f"topic_{topic.slug}"] = forms.BooleanField(
                required=False,
                initial=not opted_out,
                label=topic.name,
                help_text=topic.description,
            )
        self.preferences = list(profile.preferences.all())
        for preference in self.preferences:
            self.fields[f"remove_{preference.pk}"] = forms.BooleanField(
                required=False,
                label=_("Forget “%(value)s”") % {"value": preference.value},
            )

    def _shows(self, channel: str) -> bool:
        if self.states[channel].granted:
            return True
        if channel == Channel.EMAIL:
            return bool(self.profile.email)
        if channel in PHONE_CHANNELS:
            return bool(self.profile.phone)
        return Identity.objects.filter(
            profile=self.profile, kind=Identity.Kind.DEVICE
        ).exists()

    def channel_fields(self) -> list[Any]:
        return [self[f"channel_{channel}"] for channel in self.channels]

    def topic_fields(self) -> list[Any]:
        return [self[f"topic_{topic.slug}"] for topic in self.topics]

    def preference_fields(self) -> list[Any]:
        return [self[f"remove_{preference.pk}"] for preference in self.preferences]

    def save(self, *, ip_address: str | None, user_agent: str) -> int:
        """Record the boxes the customer changed; return the ledger rows written.

        A box left as it was shown writes nothing, so saving the page does not
        record a withdrawal of consent that was never given.
        """
        proof = {
            "source": "preference-centre",
            "ip_address": ip_address,
            "user_agent": user_agent,
        }
        written = 0
        with transaction.atomic():
            for channel in self.channels:
                if f"channel_{channel}" not in self.changed_data:
                    continue
                wording = self.wordings[channel]
                record = set_consent(
                    self.profile,
                    channel,
                    self.cleaned_data[f"channel_{channel}"],
                    purpose=Purpose.MARKETING,
                    wording_version=wording.version if wording else "",
                    **proof,
                )
                written += record is not None
            for topic in self.topics:
                if f"topic_{topic.slug}" not in self.changed_data:
                    continue
                for channel in self.channels:
                    record = set_consent(
                        self.profile,
                        channel,
                        self.cleaned_data[f"topic_{topic.slug}"],
                        purpose=Purpose.MARKETING,
                        topic=topic.slug,
                        **proof,
                    )
                    written += record is not None
            removed = [
                p.pk for p in self.preferences if self.cleaned_data[f"remove_{p.pk}"]
            ]
            self.profile.preferences.filter(pk__in=removed).delete()
        return written
