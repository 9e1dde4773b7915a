"""Conversations: the customer context, the marketing-pause check and chat polling.

Each figure is measured beside hand-written SQL that reads the same rows through the
same connection, alternating the two so that both see the same load. Data lives in a
throwaway database named after the settings' test database (set
``OMNICHANNEL_TEST_DB_SUFFIX``), which the run creates and drops. It holds the
profiles of the standard data set (``benchmarks.dataset``, without its events) with
two orders, a cart, an email consent each and a segment membership for every third,
and a conversation of eight messages for every tenth customer. The rows are written
in SQL with a fixed seed; the figures read a seeded sample of ``SAMPLE`` customers.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks import dataset
from benchmarks.common import Result
from benchmarks.dataset import insert_select

SEED = 0.20261204
SAMPLE = 300
MESSAGES_PER_CONVERSATION = 8
CONVERSATION_SHARE = 10


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Create the test database of the current settings, migrate it, drop it after."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _generate(customers: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from omnichannel.consent.models import ConsentRecord
    from omnichannel.conversations.models import Conversation, Message
    from omnichannel.profiles.models import Event
    from omnichannel.segments.models import Segment, SegmentMembership

    now = timezone.now()
    first_id, _last_id = dataset.generate_profiles(customers, emails=True)
    segment = Segment.objects.create(name="VIP", slug="vip")
    insert_select(
        SegmentMembership,
        {"segment_id": "%(segment)s", "profile_id": "id"},
        "FROM omnichannel_profile p WHERE (id - %(first)s) %% 3 = 0 ORDER BY p.id",
        {"segment": segment.pk, "first": first_id},
    )
    insert_select(
        ConsentRecord,
        {"profile_id": "id", "channel": "'email'", "granted": "TRUE"},
        "FROM omnichannel_profile p ORDER BY p.id",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
    insert_select(
        Event,
        {
            "profile_id": "p.id",
            "name": "'order_placed'",
            "occurred_at": "%(now)s - "
            "make_interval(days => 1 + floor(random() * 400)::int)",
            "object_type": "'order'",
            "object_id": "p.id || '-' || number",
            "revenue": "39.90",
            "currency": "'EUR'",
            "properties": """'{"lines": [{"sku": "MUG-042", "quantity": 1}]}'::jsonb""",
        },
        "FROM omnichannel_profile p CROSS JOIN generate_series(0, 1) AS number "
        "ORDER BY p.id, number",
        {"now": now},
    )
    insert_select(
        Event,
        {
            "profile_id": "id",
            "name": "'cart_updated'",
            "occurred_at": "%(now)s - "
            "make_interval(hours => 1 + floor(random() * 500)::int)",
            "object_type": "'cart'",
            "object_id": "id::text",
            "properties": "jsonb_build_object("
            "'total', '14.90', 'item_count', 1, 'lines', '[]'::jsonb)",
        },
        "FROM omnichannel_profile p ORDER BY p.id",
        {"now": now},
    )
    insert_select(
        Conversation,
        {
            "uuid": "gen_random_uuid()",
            "profile_id": "id",
            "visitor_id": "lpad(to_hex(id), 32, '0')",
            "token_hash": "lpad(to_hex(id), 64, '0')",
            "updated_at": "%(now)s",
        },
        "FROM omnichannel_profile p WHERE (id - %(first)s) %% %(share)s = 0 "
        "ORDER BY p.id",
        {"now": now, "first": first_id, "share": CONVERSATION_SHARE},
    )
    insert_select(
        Message,
        {"conversation_id": "c.id", "author": "'customer'", "body": "'Hello'"},
        "FROM omnichannel_conversation c "
        "CROSS JOIN generate_series(1, %(messages)s) AS number ORDER BY c.id, number",
        {"messages": MESSAGES_PER_CONVERSATION},
    )


CONTEXT_SQL = (
    "SELECT * FROM omnichannel_profile WHERE id = %(id)s",
    "SELECT * FROM omnichannel_rfmscore WHERE profile_id = %(id)s",
    "SELECT * FROM omnichannel_customerprediction WHERE profile_id = %(id)s",
    "SELECT * FROM omnichannel_event WHERE profile_id = %(id)s "
    "AND name = 'order_placed' ORDER BY occurred_at DESC, id DESC LIMIT 5",
    "SELECT name, object_id FROM omnichannel_event WHERE profile_id = %(id)s "
    "AND name IN ('order_paid', 'order_cancelled', 'order_refunded') "
    "AND object_type = 'order' AND object_id IN (%(order_a)s, %(order_b)s)",
    "SELECT * FROM omnichannel_event e WHERE e.profile_id = %(id)s "
    "AND e.name = 'cart_updated' AND e.object_type = 'cart' AND NOT EXISTS ("
    "SELECT 1 FROM omnichannel_event c WHERE c.name = 'cart_converted' "
    "AND c.object_type = 'cart' AND c.object_id = e.object_id) "
    "ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1",
    "SELECT s.slug, s.name, m.entered_at FROM omnichannel_segmentmembership m "
    "JOIN omnichannel_segment s ON s.id = m.segment_id "
    "WHERE m.profile_id = %(id)s AND m.exited_at IS NULL ORDER BY s.name",
    "SELECT j.slug, j.name, e.current_step, e.entered_at, e.next_run_at "
    "FROM omnichannel_enrollment e JOIN omnichannel_journey j "
    "ON j.id = e.journey_id WHERE e.profile_id = %(id)s AND e.status = 'active'",
    "SELECT * FROM omnichannel_consentrecord WHERE profile_id = %(id)s "
    "ORDER BY recorded_at DESC, id DESC",
)
PAUSE_SQL = (
    "SELECT 1 FROM omnichannel_conversation WHERE profile_id IN (%(id)s) "
    "AND status = 'open' AND created_at <= %(at)s "
    "AND (waiting_since IS NOT NULL OR last_message_at >= %(cutoff)s) LIMIT 1"
)
POLL_SQL = (
    "SELECT m.*, u.id FROM omnichannel_message m "
    "LEFT JOIN auth_user u ON u.id = m.agent_id "
    "WHERE m.conversation_id = %(id)s AND m.id > %(after)s ORDER BY m.id LIMIT 100"
)


def _raw(statements: tuple[str, ...], parameters: dict[str, Any]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()


def _alternate(
    items: list[Any], measured: Callable[[Any], Any], reference: Callable[[Any], Any]
) -> tuple[float, float]:
    """Return the total seconds of ``measured`` and ``reference`` over ``items``."""
    measured_total = reference_total = 0.0
    for item in items:
        start = time.perf_counter()
        measured(item)
        measured_total += time.perf_counter() - start
        start = time.perf_counter()
        reference(item)
        reference_total += time.perf_counter() - start
    return measured_total, reference_total


def _context_figures(sample: list[Any], customers: int) -> list[Result]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnichannel.conversations.customer import customer_context
    from omnichannel.profiles.models import Profile

    def measured(profile_id: int) -> None:
        customer_context(Profile.objects.get(pk=profile_id))

    def reference(profile_id: int) -> None:
        _raw(
            CONTEXT_SQL,
            {
                "id": profile_id,
                "order_a": f"{profile_id}-0",
                "order_b": f"{profile_id}-1",
            },
        )

    _alternate(sample[:20], measured, reference)  # warm caches
    orm, raw = _alternate(sample, measured, reference)
    with CaptureQueriesContext(connection) as captured:
        measured(sample[0])
    count = len(sample)
    return [
        Result(
            name="customer context per customer",
            value=round(orm / count * 1000, 3),
            unit="ms",
            reference_value=round(raw / count * 1000, 3),
            reference="the same nine SELECTs as hand-written SQL, rows fetched",
            target="<=20",
            customers=customers,
            note=f"mean over {count} random customers; the value includes "
            "building the dict",
        ),
        Result(
            name="customer context queries",
            value=len(captured.captured_queries),
            unit="queries",
            reference_value=len(CONTEXT_SQL),
            reference="hand-written statements",
            target="<=20",
            customers=customers,
            note="one customer, with the profile lookup",
        ),
    ]


def _pause_figure(sample: list[Any], customers: int) -> Result:
    from django.utils import timezone

    from omnichannel.conf import app_settings
    from omnichannel.conversations.services import marketing_paused
    from omnichannel.profiles.models import Profile

    profiles = list(Profile.objects.filter(pk__in=sample))
    now = timezone.now()
    cutoff = now - app_settings.CONVERSATION_IDLE_TIMEOUT

    def reference(profile: Any) -> None:
        _raw((PAUSE_SQL,), {"id": profile.pk, "at": now, "cutoff": cutoff})

    orm, raw = _alternate(profiles, lambda p: marketing_paused(p, now), reference)
    return Result(
        name="marketing pause checks per second",
        value=round(len(profiles) / orm, 1),
        unit="checks/s",
        reference_value=round(len(profiles) / raw, 1),
        reference="the same EXISTS query as hand-written SQL",
        target=">=1000",
        customers=customers,
        note="marketing_paused(profile) at send time",
    )


def _poll_figures(customers: int) -> list[Result]:
    from django.test import Client, override_settings
    from django.urls import reverse

    from omnichannel.conf import app_settings
    from omnichannel.conversations import services
    from omnichannel.conversations.models import Conversation

    conversations = list(
        Conversation.objects.order_by("?")[: min(SAMPLE, customers // 10 or 1)]
    )

    def reference(conversation: Any) -> None:
        _raw((POLL_SQL,), {"id": conversation.pk, "after": 0})

    orm, raw = _alternate(
        conversations, lambda c: services.messages_after(c, 0), reference
    )
    results = [
        Result(
            name="chat poll queries per second",
            value=round(len(conversations) / orm, 1),
            unit="polls/s",
            reference_value=round(len(conversations) / raw, 1),
            reference="the same SELECT as hand-written SQL",
            target=">=1000",
            customers=customers,
            note=f"messages_after() on conversations of "
            f"{MESSAGES_PER_CONVERSATION} messages",
        )
    ]

    # A whole HTTP poll: middleware, rate limits, token and cookie check, JSON.
    profile = conversations[0].profile
    conversation, token = services.start_conversation(
        profile, visitor_id="b" * 32, body="Where is my order?"
    )
    client = Client()
    client.cookies[app_settings.VISITOR_COOKIE_NAME] = "b" * 32
    url = reverse("omnichannel:chat_messages", args=[conversation.uuid])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    unlimited = {**app_settings.user_settings, "CHAT_RATE_LIMITS": {}}
    with override_settings(OMNICHANNEL=unlimited):
        requests = 300
        start = time.perf_counter()
        for _ in range(requests):
            response = client.get(url, **headers)
            assert response.status_code == 200, response.content
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(requests):
            services.messages_after(conversation, 0)
        bare = time.perf_counter() - start
    results.append(
        Result(
            name="chat poll requests per second",
            value=round(requests / seconds, 1),
            unit="requests/s",
            reference_value=round(requests / bare, 1),
            reference="messages_after() alone, no HTTP",
            target=">=200",
            customers=customers,
            note="Django test client, one process; rate limits off so the "
            "figure measures the request path",
        )
    )
    return results


def _load_note() -> str:
    one, five, _fifteen = os.getloadavg()
    return (
        f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"
    )


def run(customers: int) -> list[Result]:
    with throwaway_database():
        _generate(customers)
        from omnichannel.profiles.models import Profile

        rng = random.Random(SEED)
        ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
        sample = rng.sample(ids, min(SAMPLE, len(ids)))
        results = _context_figures(sample, customers)
        results.append(_pause_figure(sample, customers))
        results += _poll_figures(customers)
    load = _load_note()
    for result in results:
        result.note = f"{result.note}; {load}" if result.note else load
    return results
