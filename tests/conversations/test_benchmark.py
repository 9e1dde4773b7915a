"""The conversations benchmark's steps, run at a tiny size so they keep working."""

import pytest
from django.db import connection

from benchmarks import bench_conversations
from omnichannel.conversations.models import Conversation, Message
from omnichannel.profiles.models import Profile

# The benchmark writes its data with PostgreSQL's SQL, as it runs only there; the
# PostgreSQL run of the suite covers this test.
pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmarks run on PostgreSQL"
)


@pytest.mark.django_db
def test_benchmark_steps_run_at_tiny_size():
    bench_conversations._generate(40)
    sample = list(Profile.objects.values_list("pk", flat=True))[:10]

    context = bench_conversations._context_figures(sample, 40)
    pause = bench_conversations._pause_figure(sample, 40)
    polls = bench_conversations._poll_figures(40)

    # Every tenth customer has a conversation of eight messages, and the HTTP poll
    # figure starts one more with one message.
    assert Conversation.objects.count() == 4 + 1
    assert Message.objects.count() == 4 * 8 + 1
    assert [r.unit for r in context] == ["ms", "queries"]
    # The app reads the context in fewer queries than the nine reference SELECTs.
    assert context[1].value <= context[1].reference_value
    assert pause.value > 0
    assert pause.reference_value > 0
    assert [r.unit for r in polls] == ["polls/s", "requests/s"]
    assert all(r.value > 0 for r in polls)
