"""A Celery app configured from the test settings (eager, in-memory broker), so that
``shared_task`` calls in the app run in the test process."""

from celery import Celery

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.set_default()
