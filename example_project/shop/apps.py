from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("Shop")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in

        from shop import receivers

        user_logged_in.connect(
            receivers.attach_cart_on_login,
            sender=get_user_model(),
            dispatch_uid="shop.attach_cart_on_login",
        )
