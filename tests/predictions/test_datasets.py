import pytest

from omnichannel.predictions.datasets import read_cdnow
from omnichannel.predictions.exceptions import InvalidSummaryInput


def test_read_cdnow_master_rows(cdnow_master_rows):
    assert len(cdnow_master_rows) == 69659
    assert len(set(cdnow_master_rows.customer_ids.tolist())) == 23570
    assert (cdnow_master_rows.amounts == 0).any()


def test_read_cdnow_sample_rows(cdnow_sample_rows):
    assert len(cdnow_sample_rows) == 6919
    assert str(cdnow_sample_rows.dates[0]) == "1997-01-01"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 19970101 2\n", "4 or 5 columns"),
        ("1 1997-01-01 2 3.0\n", "YYYYMMDD"),
        ("1 19971301 2 3.0\n", "invalid date"),
        ("x1 19970101 2 3.0\n1 19970101 2 abc\n", "must be numbers"),
    ],
)
def test_read_cdnow_rejects_bad_lines(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(line)
    with pytest.raises(InvalidSummaryInput, match=message):
        read_cdnow(path)
