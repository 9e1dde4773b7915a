"""The test settings' WSGI application with no receivers of stored events.

Used by ``bench_events_api`` to measure the batch endpoint's own cost beside the
cost with every ``event_tracked`` and ``events_tracked`` receiver that other parts
of the app connect (journeys, segments, offers, order attribution).
"""

from django.core.wsgi import get_wsgi_application

# The app's modules can be imported only once Django is set up.
application = get_wsgi_application()

from omnichannel.profiles.signals import event_tracked, events_tracked  # noqa: E402

for signal in (event_tracked, events_tracked):
    signal.receivers.clear()
    signal.sender_receivers_cache.clear()
