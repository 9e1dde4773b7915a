from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from omnichannel.profiles.models import Event, Profile

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = """ customer_id  date number_of_cds  dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00003 19971345  2   20.76
 00004 19970101  x   29.33
 00002 19970112  1   12.00
 00005 19970102  1   -3.00
 00006 19970102  1   0.00
 00007 19970102  1
"""


@pytest.fixture
def cdnow_file(tmp_path):
    path = tmp_path / "orders.txt"
    path.write_text(GOOD_AND_BAD)
    return path


def test_import_reports_bad_rows_and_imports_good(cdnow_file, capsys):
    call_command(
        "omnichannel_import_orders", str(cdnow_file), file_format="cdnow", verbosity=0
    )
    output = capsys.readouterr()
    assert "line 5: date '19971345' is not a YYYYMMDD date." in output.err
    assert "line 6: number of CDs 'x' is not a whole number." in output.err
    assert "line 8: dollar value '-3.00' is negative" in output.err
    assert "line 10: expected 4 columns" in output.err
    assert Event.objects.count() == 5
    customer = Profile.objects.get(identities__value="cdnow:00002")
    # Two identical rows on one day are two purchases.
    assert customer.order_count == 3
    assert customer.total_spent == Decimal("101.00")
    free = Profile.objects.get(identities__value="cdnow:00006")
    assert free.order_count == 1
    assert free.total_spent == Decimal("0.00")


def test_import_twice_adds_nothing(cdnow_file):
    call_command(
        "omnichannel_import_orders", str(cdnow_file), file_format="cdnow", verbosity=0
    )
    counts = (Profile.objects.count(), Event.objects.count())
    call_command(
        "omnichannel_import_orders", str(cdnow_file), file_format="cdnow", verbosity=0
    )
    assert (Profile.objects.count(), Event.objects.count()) == counts


def test_import_strict_stops_and_writes_nothing(cdnow_file):
    with pytest.raises(CommandError, match="line 5: date '19971345'"):
        call_command(
            "omnichannel_import_orders",
            str(cdnow_file),
            file_format="cdnow",
            strict=True,
            verbosity=0,
        )
    assert Event.objects.count() == 0
    assert Profile.objects.count() == 0


def test_import_csv_normalises_customers(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created_at,total,email,currency\n"
        "A1,2026-12-02T19:45:00+01:00,59.00,anna.example@example.com,EUR\n"
        "A2,2026-12-04,12.50, Anna.Example@Example.COM ,EUR\n"
        "A3,2026-12-04,abc,x@example.com,EUR\n"
        "A4,2026-12-04,1.00,not-an-email,EUR\n"
    )
    call_command("omnichannel_import_orders", str(path), file_format="csv", verbosity=0)
    profile = Profile.objects.get(email="anna.example@example.com")
    assert profile.order_count == 2
    assert profile.total_spent == Decimal("71.50")
    assert Event.objects.count() == 2


def test_import_csv_missing_column_is_clear(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,total,email\nA1,1.00,a@example.com\n")
    with pytest.raises(CommandError, match="lacks the column"):
        call_command(
            "omnichannel_import_orders",
            str(path),
            file_format="csv",
            strict=True,
            verbosity=0,
        )


def test_import_missing_file_is_clear(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "omnichannel_import_orders", str(tmp_path / "none.txt"), file_format="cdnow"
        )


GOOD_ONLY = """ 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00002 19970112  1   12.00
 00003 19970301  2   20.76
 00001 19970402  1   9.99
 00004 19970403  3   30.00
"""


def test_import_in_small_chunks_same_result(tmp_path, monkeypatch):
    from omnichannel.profiles import importer

    path = tmp_path / "orders.txt"
    path.write_text(GOOD_ONLY)
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    result = importer.import_orders(path, file_format="cdnow")
    assert result.rows_read == 7
    assert result.rows_imported == 7
    assert result.profiles_created == 4
    assert Event.objects.count() == 7
    first = Profile.objects.get(identities__value="cdnow:00001")
    assert first.order_count == 2
    assert first.total_spent == Decimal("21.76")
    assert first.identities.get().source == "import"
    second = Profile.objects.get(identities__value="cdnow:00002")
    assert second.order_count == 3
    assert second.total_spent == Decimal("101.00")

    again = importer.import_orders(path, file_format="cdnow")
    assert again.rows_imported == 0
    assert again.rows_skipped_existing == 7
    assert again.profiles_created == 0
    assert Event.objects.count() == 7
    assert Profile.objects.count() == 4


def test_import_strict_late_bad_row_writes_nothing(tmp_path, monkeypatch):
    from omnichannel.exceptions import ImportRowError
    from omnichannel.profiles import importer

    path = tmp_path / "orders.txt"
    path.write_text(GOOD_ONLY + " 00005 19971345  1   5.00\n")
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    with pytest.raises(ImportRowError, match="line 8: date '19971345'"):
        importer.import_orders(path, file_format="cdnow", strict=True)
    assert Event.objects.count() == 0
    assert Profile.objects.count() == 0
