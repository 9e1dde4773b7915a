import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from omnichannel.predictions.models import (
    CustomerPrediction,
    PredictionModel,
    PredictionValidation,
)

from .conftest import CALIBRATION_END, CDNOW, HOLDOUT_END, load_cdnow_into_database

pytestmark = pytest.mark.django_db


def test_fit_command_fits_and_scores(cdnow_sample_rows, capsys):
    load_cdnow_into_database(cdnow_sample_rows)
    call_command(
        "omnichannel_fit_predictions", "--calibration-end", CALIBRATION_END.isoformat()
    )
    output = capsys.readouterr().out
    assert "2357 customers" in output
    assert "r=0.24" in output
    assert "[active]" in output
    assert "Scored 2357 profiles" in output
    assert PredictionModel.objects.filter(is_active=True).count() == 2
    assert CustomerPrediction.objects.count() == 2357


def test_fit_command_too_little_history_reports(capsys):
    call_command("omnichannel_fit_predictions", "--no-score")
    output = capsys.readouterr().out
    assert "not fitted" in output
    assert "at least 100 customers" in output
    assert not CustomerPrediction.objects.exists()


def test_validate_command_cdnow_file(tmp_path, capsys):
    plot = tmp_path / "holdout.png"
    call_command(
        "omnichannel_validate_predictions",
        "--file",
        str(CDNOW / "CDNOW_sample.txt"),
        "--calibration-end",
        CALIBRATION_END.isoformat(),
        "--holdout-end",
        HOLDOUT_END.isoformat(),
        "--output",
        str(plot),
    )
    output = capsys.readouterr().out
    assert "2357 customers" in output
    assert "actual 1882" in output
    assert "       7+        64    6.359" in output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = PredictionValidation.objects.get()
    assert record.actual_purchases == 1882
    assert record.table[0]["frequency"] == "0"
    assert bytes(record.plot_png)[:4] == b"\x89PNG"


def test_validate_command_database_default_split(cdnow_sample_rows, capsys):
    load_cdnow_into_database(cdnow_sample_rows)
    call_command(
        "omnichannel_validate_predictions",
        "--holdout-end",
        HOLDOUT_END.isoformat(),
        "--no-save",
    )
    output = capsys.readouterr().out
    assert "holdout to 1998-06-30" in output
    assert not PredictionValidation.objects.exists()


def test_validate_command_rejects_dates_out_of_order():
    with pytest.raises(CommandError, match="calibration end"):
        call_command(
            "omnichannel_validate_predictions",
            "--file",
            str(CDNOW / "CDNOW_sample.txt"),
            "--calibration-end",
            "1998-07-01",
            "--holdout-end",
            "1998-06-30",
        )


def test_validate_command_missing_file():
    with pytest.raises(CommandError, match="does not exist"):
        call_command("omnichannel_validate_predictions", "--file", "/nonexistent.txt")


def test_validate_command_empty_database():
    with pytest.raises(CommandError, match="no orders"):
        call_command("omnichannel_validate_predictions")


def test_validate_command_bad_date_argument():
    with pytest.raises(CommandError):
        call_command(
            "omnichannel_validate_predictions", "--calibration-end", "30/09/1997"
        )


def test_fit_command_not_converged_exits_with_error(settings):
    from omnichannel.profiles.models import Profile

    from .conftest import add_orders

    settings.OMNICHANNEL = {
        "PREDICTIONS_MIN_CUSTOMERS": 1,
        "PREDICTIONS_MIN_REPEAT_CUSTOMERS": 1,
    }
    for _ in range(30):
        profile = Profile.objects.create()
        add_orders(
            profile,
            [
                (datetime.date(2024, 1, 1) + datetime.timedelta(weeks=w), 10)
                for w in range(20)
            ],
        )
    with pytest.raises(CommandError, match="did not converge"):
        call_command(
            "omnichannel_fit_predictions",
            "--calibration-end",
            "2024-05-13",
            "--no-score",
        )
