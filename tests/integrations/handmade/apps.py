from django.apps import AppConfig


class HandmadeConfig(AppConfig):
    name = "tests.integrations.handmade"
    label = "handmade"
    default_auto_field = "django.db.models.BigAutoField"
