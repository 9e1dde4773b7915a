from decimal import Decimal

import pytest

from omnichannel.exceptions import ExperimentError
from omnichannel.experiments.models import Experiment
from omnichannel.experiments.services import (
    complete_experiment,
    event_properties,
    pause_experiment,
    start_experiment,
)
from tests.factories import ExperimentFactory, VariantFactory

pytestmark = pytest.mark.django_db

Status = Experiment.Status


def draft(holdout="0"):
    return ExperimentFactory(status=Status.DRAFT, holdout_share=Decimal(holdout))


def test_start_valid_experiment():
    experiment = draft()
    VariantFactory(experiment=experiment, key="a", is_control=True)
    VariantFactory(experiment=experiment, key="b")

    start_experiment(experiment)

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert experiment.started_at is not None


def test_start_one_variant_with_holdout():
    experiment = draft(holdout="0.1")
    VariantFactory(experiment=experiment, key="a", is_control=True)

    start_experiment(experiment)

    assert experiment.status == Status.RUNNING


@pytest.mark.parametrize(
    "variants,holdout,field",
    [
        ([], "0", "variants"),
        ([("a", False, 1), ("b", False, 1)], "0", "is_control"),
        ([("a", True, 0), ("b", False, 0)], "0", "weight"),
        ([("a", True, 1)], "0", "holdout_share"),
        ([("a", True, 1), ("holdout", False, 1)], "0", "key"),
    ],
)
def test_start_invalid_rejected(variants, holdout, field):
    experiment = draft(holdout)
    for key, is_control, weight in variants:
        VariantFactory(
            experiment=experiment, key=key, is_control=is_control, weight=weight
        )

    with pytest.raises(ExperimentError) as raised:
        start_experiment(experiment)

    assert raised.value.field == field
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT


def test_pause_draft_rejected():
    with pytest.raises(ExperimentError, match="Cannot pause"):
        pause_experiment(draft())


def test_complete_with_foreign_winner_rejected():
    experiment = ExperimentFactory()
    other = VariantFactory(key="x")

    with pytest.raises(ExperimentError, match="another experiment"):
        complete_experiment(experiment, other)

    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_complete_by_hand_sets_winner():
    experiment = ExperimentFactory()
    winner = VariantFactory(experiment=experiment, key="b")

    complete_experiment(experiment, winner)

    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED
    assert experiment.winner == winner


def test_event_properties_names_arm():
    experiment = ExperimentFactory()
    variant = VariantFactory(experiment=experiment, key="short-subject")

    assert event_properties(experiment, variant) == {
        "experiment_id": experiment.pk,
        "variant": "short-subject",
    }
    assert event_properties(experiment, None)["variant"] == "holdout"
