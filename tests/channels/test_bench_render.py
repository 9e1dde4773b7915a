"""The render benchmark's steps at a tiny size, so the script keeps working."""

import pytest
from django.db import connection

from benchmarks import bench_render
from omnichannel.profiles.models import Profile

# The benchmark writes its data with PostgreSQL's SQL, as it runs only there; the
# PostgreSQL run of the suite covers this test.
pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmarks run on PostgreSQL"
)


@pytest.mark.django_db
def test_render_benchmark_steps_run_at_tiny_size():
    bench_render._generate(30)
    template = bench_render._template()
    ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    personalised, plain = bench_render._measure(template, ids)
    assert len(ids) == 30
    assert personalised.cpu > 0
    assert plain.cpu > 0
    assert bench_render._queries(template, ids[:10]) == bench_render._queries(
        template, ids
    )
