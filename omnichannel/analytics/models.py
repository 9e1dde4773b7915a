"""Admin entries for the analytics dashboards.

The dashboards have no table of their own. These proxy models of Event give each
one a place on the admin index and its own view permission.
"""

from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Event


class JourneyReport(Event):
    class Meta:
        proxy = True
        verbose_name = _("journey analytics")
        verbose_name_plural = _("journey analytics")


class LifecycleReport(Event):
    class Meta:
        proxy = True
        verbose_name = _("lifecycle map")
        verbose_name_plural = _("lifecycle map")


class CartRecoveryReport(Event):
    class Meta:
        proxy = True
        verbose_name = _("abandoned-cart recovery")
        verbose_name_plural = _("abandoned-cart recovery")
