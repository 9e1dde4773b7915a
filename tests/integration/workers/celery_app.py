"""The Celery app of the worker and beat processes the integration tests start."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.workers.settings")

app = Celery("omnichannel_it")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
