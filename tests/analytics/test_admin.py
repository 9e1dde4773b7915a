import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from omnichannel.analytics.charts import bar_chart, funnel_chart, nice_ticks
from omnichannel.analytics.tables import Table, csv_cell
from omnichannel.experiments.models import Assignment, Experiment
from omnichannel.profiles.models import Event
from tests.factories import ExperimentFactory, ProfileFactory, VariantFactory

pytestmark = pytest.mark.django_db

DASHBOARDS = ("journeyreport", "lifecyclereport", "cartrecoveryreport")


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def activity():
    now = timezone.now()
    profile = ProfileFactory()
    for name, hours, properties in (
        ("page_viewed", 50, {"utm_medium": "email"}),
        ("journey_entered", 49, {"journey_id": 3, "holdout": False}),
        ("message_sent", 48, {"journey_id": 3, "step_key": "email-1"}),
        ("message_clicked", 47, {"journey_id": 3, "step_key": "email-1"}),
        ("cart_abandoned", 46, {}),
    ):
        Event.objects.create(
            profile=profile,
            name=name,
            occurred_at=now - timedelta(hours=hours),
            properties=properties,
            object_type="cart" if name == "cart_abandoned" else "",
            object_id="c1" if name == "cart_abandoned" else "",
        )
    Event.objects.create(
        profile=profile,
        name="order_placed",
        occurred_at=now - timedelta(hours=45),
        revenue=Decimal("42.00"),
        object_type="order",
        object_id="o1",
    )
    return profile


def dashboard_url(model_name):
    return reverse(f"admin:omnichannel_{model_name}_changelist")


def read_csv(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_admin_index_links_dashboards(staff):
    response = staff.get(reverse("admin:index"))

    assert response.status_code == 200
    for model_name in DASHBOARDS:
        assert dashboard_url(model_name).encode() in response.content


@pytest.mark.parametrize("model_name", DASHBOARDS)
def test_dashboard_renders_svg(staff, activity, model_name):
    response = staff.get(dashboard_url(model_name))

    assert response.status_code == 200
    assert b"<svg" in response.content
    assert b"export=" in response.content


def test_journey_dashboard_one_journey(staff, activity):
    response = staff.get(dashboard_url("journeyreport"), {"journey": 3})

    assert response.status_code == 200
    assert b"Funnel of Journey 3" in response.content


def test_journey_dashboard_csv_matches_data(staff, activity):
    response = staff.get(
        dashboard_url("journeyreport"), {"journey": 3, "export": "attribution"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert rows == [
        {
            "journey_id": "3",
            "journey": "Journey 3",
            "step_key": "email-1",
            "orders": "1",
            "customers": "1",
            "revenue": "42.00",
        }
    ]


@pytest.mark.parametrize(
    "model_name,tables",
    [
        ("journeyreport", ("journeys", "attribution", "funnel", "steps", "lift")),
        ("lifecyclereport", ("weekly", "stages", "channels")),
        ("cartrecoveryreport", ("weekly", "rates")),
    ],
)
def test_dashboard_every_table_exports(staff, activity, model_name, tables):
    for table in tables:
        response = staff.get(dashboard_url(model_name), {"journey": 3, "export": table})

        assert response.status_code == 200, table
        assert response["Content-Type"].startswith("text/csv")
        assert response.content.decode().splitlines()[0]


def test_lifecycle_csv_channel_filter(staff, activity):
    response = staff.get(
        dashboard_url("lifecyclereport"), {"channel": "email", "export": "weekly"}
    )
    rows = read_csv(response)

    assert rows
    assert {row["channel"] for row in rows} == {"email"}


def test_cart_recovery_csv(staff, activity):
    rows = read_csv(
        staff.get(dashboard_url("cartrecoveryreport"), {"export": "weekly"})
    )

    assert len(rows) == 1
    assert rows[0]["abandoned"] == "1"
    assert rows[0]["recovered"] == "1"
    assert rows[0]["revenue"] == "42.00"


def test_dashboard_bad_period_rejected(staff):
    url = dashboard_url("journeyreport")
    params = {"start": "2026-12-10", "end": "2026-12-01"}

    page = staff.get(url, params)
    export = staff.get(url, {**params, "export": "journeys"})

    assert page.status_code == 200
    assert b"start date must be on or before" in page.content
    assert export.status_code == 400
    assert b"Invalid filter" in export.content


def test_dashboard_bad_date_rejected(staff):
    response = staff.get(
        dashboard_url("lifecyclereport"), {"start": "yesterday", "export": "weekly"}
    )

    assert response.status_code == 400
    assert b"start" in response.content


def test_dashboard_unknown_table_404(staff, activity):
    response = staff.get(dashboard_url("journeyreport"), {"export": "nope"})

    assert response.status_code == 404


def test_dashboard_needs_view_permission(client):
    user = User.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    client.force_login(user)

    assert client.get(dashboard_url("lifecyclereport")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_lifecyclereport"))
    assert client.get(dashboard_url("lifecyclereport")).status_code == 200


@pytest.fixture
def experiment():
    experiment = ExperimentFactory(key="subject-line", name="Subject line")
    control = VariantFactory(experiment=experiment, key="plain", is_control=True)
    challenger = VariantFactory(experiment=experiment, key="emoji")
    for variant, converted in ((control, 1), (challenger, 2)):
        for index in range(3):
            profile = ProfileFactory()
            Assignment.objects.create(
                experiment=experiment, profile=profile, variant=variant
            )
            if index < converted:
                Event.objects.create(
                    profile=profile,
                    name="order_placed",
                    occurred_at=timezone.now() + timedelta(minutes=1),
                    revenue=Decimal("10.00"),
                    object_type="order",
                    object_id=f"o-{profile.pk}",
                )
    return experiment


def results_url(experiment):
    return reverse("admin:omnichannel_experiment_results", args=[experiment.pk])


def test_experiment_results_page(staff, experiment):
    response = staff.get(results_url(experiment))

    assert response.status_code == 200
    assert b"<svg" in response.content
    assert b"Against the control" in response.content


def test_experiment_results_csv(staff, experiment):
    arms = read_csv(staff.get(results_url(experiment), {"export": "arms"}))
    comparisons = read_csv(
        staff.get(results_url(experiment), {"export": "comparisons"})
    )

    assert [(row["arm"], row["assigned"], row["converted"]) for row in arms] == [
        ("plain", "3", "1"),
        ("emoji", "3", "2"),
    ]
    assert {row["metric"] for row in comparisons} == {
        "conversion_rate",
        "click_rate",
        "open_rate",
        "revenue_per_recipient",
    }


def test_experiment_promote_by_hand(staff, experiment):
    emoji = experiment.variants.get(key="emoji")

    response = staff.post(results_url(experiment), {"variant": emoji.pk})

    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.COMPLETED
    assert experiment.winner == emoji


def test_experiment_promote_foreign_variant_rejected(staff, experiment):
    other = VariantFactory(key="elsewhere")

    staff.post(results_url(experiment), {"variant": other.pk})

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING


def test_experiment_start_action_reports_error(staff):
    draft = ExperimentFactory(status=Experiment.Status.DRAFT)
    VariantFactory(experiment=draft, key="only", is_control=True)

    response = staff.post(
        reverse("admin:omnichannel_experiment_changelist"),
        {"action": "start_selected", "_selected_action": [draft.pk]},
        follow=True,
    )

    draft.refresh_from_db()
    assert draft.status == Experiment.Status.DRAFT
    assert b"nothing to compare" in response.content


def test_experiment_change_page_renders(staff, experiment):
    response = staff.get(
        reverse("admin:omnichannel_experiment_change", args=[experiment.pk])
    )

    assert response.status_code == 200


def test_chart_escapes_labels():
    svg = bar_chart(["<script>alert(1)</script>"], [("a&b", [1.0])], title="t <b>")

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a&amp;b" in svg


def test_chart_empty_values_draw():
    assert "<svg" in bar_chart(["x"], [("s", [None])], title="empty")
    assert "<svg" in funnel_chart([("entered", 0)], title="empty")


def test_nice_ticks_cover_maximum():
    assert nice_ticks(0) == [0.0, 1.0]
    ticks = nice_ticks(87)
    assert ticks[0] == 0
    assert ticks[-1] >= 87
    assert ticks == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]


def test_csv_cell_neutralises_formulas():
    table = Table("t", "t", [("name", "name"), ("n", "n")], [{"name": "=1+1", "n": -3}])

    assert csv_cell("=HYPERLINK()") == "'=HYPERLINK()"
    assert csv_cell(-3) == "-3"
    assert table.to_csv().splitlines() == ["name,n", "'=1+1,-3"]


def test_default_period_ends_today_with_recent_orders():
    from omnichannel.admin.dashboards import default_end

    Event.objects.create(
        profile=ProfileFactory(),
        name="order_placed",
        occurred_at=timezone.now() - timedelta(days=2),
    )

    assert default_end() == timezone.localdate()


def test_default_period_ends_at_last_order_of_old_history():
    from omnichannel.admin.dashboards import default_end

    old = timezone.now() - timedelta(days=3000)
    Event.objects.create(profile=ProfileFactory(), name="order_placed", occurred_at=old)

    assert default_end() == timezone.localdate(old)


def test_default_period_without_orders_ends_today():
    from omnichannel.admin.dashboards import default_end

    assert default_end() == timezone.localdate()
