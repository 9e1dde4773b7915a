from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OmnichannelConfig(AppConfig):
    name = "omnichannel"
    verbose_name = _("Omnichannel")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from omnichannel import checks, receivers  # noqa: F401
        from omnichannel.assistant import scopes  # noqa: F401
        from omnichannel.audiences import receivers as audience_receivers
        from omnichannel.channels import receivers as channel_receivers  # noqa: F401
        from omnichannel.integrations import registry

        # Imported so that a Celery worker registers the abandoned-cart task.
        from omnichannel.integrations import tasks as integration_tasks  # noqa: F401
        from omnichannel.ops import receivers as ops_receivers  # noqa: F401
        from omnichannel.ops import tasks as ops_tasks  # noqa: F401
        from omnichannel.personalisation import receivers as personalisation_receivers

        registry.connect_adapters()
        audience_receivers.connect()
        personalisation_receivers.connect()
