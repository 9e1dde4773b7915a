import datetime

import numpy as np
import pytest

from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.summary import summarise_transactions

END = datetime.date(2024, 3, 31)


def summarise(rows, **kwargs):
    ids, dates, amounts = zip(*rows, strict=True) if rows else ((), (), ())
    kwargs.setdefault("calibration_end", END)
    return summarise_transactions(
        np.array(ids, dtype=object),
        np.array(dates, dtype="datetime64[D]"),
        np.array(amounts, dtype=float),
        **kwargs,
    )


def only(summary, customer):
    index = int(np.flatnonzero(summary.customer_ids == customer)[0])
    return {
        "frequency": summary.frequency[index],
        "recency": summary.recency[index],
        "T": summary.T[index],
        "monetary_value": summary.monetary_value[index],
        "holdout_frequency": summary.holdout_frequency[index],
    }


def test_summary_cdnow_sample_counts(cdnow_sample):
    assert len(cdnow_sample) == 2357
    assert int((cdnow_sample.frequency > 0).sum()) == 946
    assert cdnow_sample.holdout_weeks == 39.0


def test_summary_cdnow_customer_four(cdnow_sample):
    # Sample customer 4 bought on 1997-01-01, 01-18, 08-02 and 12-12.
    row = only(cdnow_sample, 4)
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(213 / 7)
    assert row["T"] == pytest.approx(272 / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)
    assert row["holdout_frequency"] == 1


def test_summary_same_day_rows_one_transaction():
    summary = summarise(
        [
            ("c", "2024-01-01", 10.0),
            ("c", "2024-01-08", 5.0),
            ("c", "2024-01-08", 7.0),
        ]
    )
    row = only(summary, "c")
    assert row["frequency"] == 1
    assert row["recency"] == 1.0
    assert row["monetary_value"] == 12.0


def test_summary_single_purchase_customer():
    row = only(summarise([("c", "2024-03-03", 20.0)]), "c")
    assert row["frequency"] == 0
    assert row["recency"] == 0
    assert row["T"] == 4.0
    assert row["monetary_value"] == 0


def test_summary_zero_value_purchase_counts():
    summary = summarise([("c", "2024-01-01", 0.0), ("c", "2024-01-15", 0.0)])
    row = only(summary, "c")
    assert row["frequency"] == 1
    assert row["monetary_value"] == 0.0


def test_summary_refund_never_creates_transaction():
    summary = summarise(
        [
            ("c", "2024-01-01", 30.0),
            ("c", "2024-01-15", 20.0),
            ("c", "2024-02-01", -5.0),
        ]
    )
    row = only(summary, "c")
    assert row["frequency"] == 1
    assert row["recency"] == 2.0
    assert row["monetary_value"] == 15.0


def test_summary_refund_same_day_nets_purchase():
    summary = summarise(
        [
            ("c", "2024-01-01", 30.0),
            ("c", "2024-01-15", 20.0),
            ("c", "2024-01-15", -20.0),
        ]
    )
    row = only(summary, "c")
    assert row["frequency"] == 1
    assert row["monetary_value"] == 0.0


def test_summary_refund_never_makes_spend_negative():
    summary = summarise(
        [
            ("c", "2024-01-01", 30.0),
            ("c", "2024-01-01", -45.0),
            ("c", "2024-01-15", 10.0),
        ]
    )
    row = only(summary, "c")
    assert row["monetary_value"] == 0.0


def test_summary_refund_only_customer_left_out():
    summary = summarise([("r", "2024-01-01", -5.0), ("c", "2024-01-01", 5.0)])
    assert list(summary.customer_ids) == ["c"]


def test_summary_purchases_after_calibration_left_out():
    summary = summarise(
        [
            ("c", "2024-01-01", 10.0),
            ("c", "2024-04-10", 10.0),
            ("late", "2024-04-02", 1),
        ]
    )
    assert list(summary.customer_ids) == ["c"]
    row = only(summary, "c")
    assert row["frequency"] == 0
    assert row["holdout_frequency"] == 0


def test_summary_holdout_counts_customer_days():
    summary = summarise(
        [
            ("c", "2024-01-01", 10.0),
            ("c", "2024-04-10", 10.0),
            ("c", "2024-04-10", 3.0),
            ("c", "2024-04-20", 2.0),
            ("c", "2024-05-20", 2.0),
        ],
        holdout_end=datetime.date(2024, 4, 30),
    )
    row = only(summary, "c")
    assert row["frequency"] == 0
    assert row["holdout_frequency"] == 2


def test_summary_empty_input():
    summary = summarise([])
    assert len(summary) == 0
    assert summary.frequency.shape == (0,)


def test_summary_rejects_length_mismatch():
    with pytest.raises(InvalidSummaryInput, match="same length"):
        summarise_transactions(
            ["a", "b"],
            np.array(["2024-01-01"], dtype="datetime64[D]"),
            [1.0, 2.0],
            calibration_end=END,
        )


def test_summary_rejects_nan_amount():
    with pytest.raises(InvalidSummaryInput, match="row 1"):
        summarise([("a", "2024-01-01", 1.0), ("a", "2024-01-02", float("nan"))])


def test_summary_rejects_datetimes():
    with pytest.raises(InvalidSummaryInput, match="calendar dates"):
        summarise_transactions(
            ["a"],
            np.array([datetime.datetime(2024, 1, 1, 12)], dtype=object),
            [1.0],
            calibration_end=END,
        )


def test_summary_rejects_holdout_before_calibration_end():
    with pytest.raises(InvalidSummaryInput, match="holdout_end"):
        summarise([("a", "2024-01-01", 1.0)], holdout_end=datetime.date(2024, 1, 1))
