"""Journey analytics, attribution, cart recovery and the lifecycle map.

Everything here reads the Event log and the experiments' assignments; nothing
writes. ``docs/analytics.md`` lists the event properties each report relies on.
"""
