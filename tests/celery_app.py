"""The Celery app of the test suite, configured from the test settings.

Tests run tasks eagerly (CELERY_TASK_ALWAYS_EAGER), so ``.delay()`` never reaches a
broker. Integration tests that start real workers configure their own app.
"""

from celery import Celery

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.set_default()
