"""The test settings' WSGI application with no ``event_tracked`` receivers.

Used by ``bench_events_api`` to measure the batch endpoint's own cost beside the
cost with every receiver that other parts of the app connect (journeys, ...).
"""

from django.core.wsgi import get_wsgi_application

# The app's modules can be imported only once Django is set up.
application = get_wsgi_application()

from omnichannel.profiles.signals import event_tracked  # noqa: E402

event_tracked.receivers.clear()
event_tracked.sender_receivers_cache.clear()
