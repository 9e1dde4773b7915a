from datetime import UTC
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


def _history(customers, bad_lines=()):
    """Return CDNOW rows: two purchases per customer, with ``bad_lines`` (1-based)
    given an invalid date."""
    lines = []
    for customer in range(1, customers + 1):
        for day in ("19970105", "19970310"):
            number = len(lines) + 1
            date = "19971345" if number in bad_lines else day
            lines.append(f" {customer:05d} {date}  1   {customer % 50 + 1}.25\n")
    return "".join(lines)


def test_import_bad_row_mid_file_skips_only_it(tmp_path, monkeypatch):
    from omnichannel.profiles import importer
    from omnichannel.profiles.models import Identity

    path = tmp_path / "orders.txt"
    # Line 301 is the first purchase of customer 151, line 402 the second of 201.
    path.write_text(_history(300, bad_lines=(301, 402)))
    monkeypatch.setattr(importer, "CHUNK_SIZE", 100)
    result = importer.import_orders(path, file_format="cdnow")

    assert [error.line_number for error in result.errors] == [301, 402]
    assert "date '19971345' is not a YYYYMMDD date" in str(result.errors[0])
    assert result.rows_imported == 598
    assert Event.objects.count() == 598
    assert Profile.objects.count() == 300
    assert Identity.objects.count() == 300
    half = Profile.objects.get(identities__value="cdnow:00151")
    assert half.order_count == 1
    assert half.total_spent == Decimal("2.25")
    other = Profile.objects.get(identities__value="cdnow:00201")
    assert other.order_count == 1


def test_import_strict_bad_row_mid_file_writes_nothing(tmp_path, monkeypatch):
    from omnichannel.exceptions import ImportRowError
    from omnichannel.profiles import importer
    from omnichannel.profiles.models import Identity

    path = tmp_path / "orders.txt"
    path.write_text(_history(300, bad_lines=(401,)))
    monkeypatch.setattr(importer, "CHUNK_SIZE", 100)
    with pytest.raises(ImportRowError, match="line 401: date '19971345'"):
        importer.import_orders(path, file_format="cdnow", strict=True)
    assert Event.objects.count() == 0
    assert Profile.objects.count() == 0
    assert Identity.objects.count() == 0


def test_import_reimport_in_chunks_adds_nothing(tmp_path, monkeypatch):
    from omnichannel.profiles import importer

    path = tmp_path / "orders.txt"
    path.write_text(_history(120))
    monkeypatch.setattr(importer, "CHUNK_SIZE", 50)
    first = importer.import_orders(path, file_format="cdnow")
    assert first.rows_imported == 240
    assert first.profiles_created == 120
    stored = sorted(
        Profile.objects.values_list("pk", "order_count", "total_spent", "currency")
    )

    again = importer.import_orders(path, file_format="cdnow")
    assert again.rows_read == 240
    assert again.rows_imported == 0
    assert again.rows_skipped_existing == 240
    assert again.profiles_created == 0
    assert Event.objects.count() == 240
    assert (
        sorted(
            Profile.objects.values_list("pk", "order_count", "total_spent", "currency")
        )
        == stored
    )


def test_import_onto_existing_profile(tmp_path, monkeypatch):
    from datetime import datetime

    from omnichannel.profiles import importer
    from omnichannel.profiles.services import identify, recompute_aggregates

    existing = identify(
        email="buyer@example.com", external_id="cdnow:00002", source="shop"
    )
    Profile.objects.filter(pk=existing.pk).update(currency="EUR")
    early = datetime(1996, 6, 1, 10, 0, tzinfo=UTC)
    order_fields = {"profile": existing, "name": "order_placed", "object_type": "order"}
    Event.objects.create(
        **order_fields, object_id="S1", revenue=Decimal("50"), occurred_at=early
    )
    Event.objects.create(
        **order_fields, object_id="S2", revenue=Decimal("20"), occurred_at=early
    )
    Event.objects.create(
        profile=existing,
        name="order_cancelled",
        object_type="order",
        object_id="S2",
        occurred_at=early,
    )
    recompute_aggregates([existing.pk])

    path = tmp_path / "orders.txt"
    path.write_text(GOOD_ONLY)
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    result = importer.import_orders(path, file_format="cdnow")

    assert result.profiles_created == 3
    assert Profile.objects.count() == 4
    existing.refresh_from_db()
    assert existing.events.filter(source="import").count() == 3
    # The cancelled order stays out of the aggregates.
    assert existing.order_count == 4
    assert existing.total_spent == Decimal("151.00")
    assert existing.average_order_value == Decimal("37.75")
    assert existing.first_order_at == early
    assert existing.currency == "EUR"
    assert existing.email == "buyer@example.com"


def test_import_aggregates_match_recompute(tmp_path, monkeypatch):
    from omnichannel.profiles import importer
    from omnichannel.profiles.services import recompute_aggregates

    fields = (
        "pk",
        "order_count",
        "total_spent",
        "average_order_value",
        "first_order_at",
        "last_order_at",
        "currency",
    )
    path = tmp_path / "orders.txt"
    path.write_text(GOOD_ONLY)
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    importer.import_orders(path, file_format="cdnow", currency="USD")
    imported = sorted(Profile.objects.values_list(*fields))

    recompute_aggregates()
    assert sorted(Profile.objects.values_list(*fields)) == imported
    assert {row[-1] for row in imported} == {"USD"}
    third = Profile.objects.get(identities__value="cdnow:00004")
    assert third.average_order_value == Decimal("30.00")


def test_import_rejects_values_too_long(tmp_path):
    from omnichannel.profiles import importer

    path = tmp_path / "orders.txt"
    path.write_text(
        f" {'9' * 101} 19970101  1   11.77\n"
        " 00002 19970101  1234567890   11.77\n"
        " 00003 19970101  1   1000000000000.00\n"
        " 00004 19970101  1   11.77\n"
    )
    result = importer.import_orders(path, file_format="cdnow")
    messages = [str(error) for error in result.errors]
    assert len(messages) == 3
    assert "line 1: customer id" in messages[0]
    assert "longer than 100 characters" in messages[0]
    assert "line 2: number of CDs '1234567890' has more than 9 digits" in messages[1]
    assert "line 3: dollar value '1000000000000.00' is larger than" in messages[2]
    assert result.rows_imported == 1


def test_import_csv_twice_and_repeated_order(tmp_path):
    from omnichannel.profiles import importer

    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created_at,total,customer_id,email\n"
        "B1,2026-12-01,10.00,c1,\n"
        "B2,2026-12-02,20.00,,pat@example.com\n"
        "B1,2026-12-01,10.00,c1,\n"
        "B3,2026-12-03,5.00,c1,\n"
    )
    first = importer.import_orders(path, file_format="csv", currency="EUR")
    assert first.rows_imported == 3
    assert first.rows_skipped_existing == 1
    assert Event.objects.count() == 3
    by_id = Profile.objects.get(identities__value="csv:c1")
    assert by_id.order_count == 2
    assert by_id.total_spent == Decimal("15.00")
    by_email = Profile.objects.get(email="pat@example.com")
    assert by_email.order_count == 1

    again = importer.import_orders(path, file_format="csv", currency="EUR")
    assert again.rows_imported == 0
    assert again.rows_skipped_existing == 4
    assert Event.objects.count() == 3
    assert Profile.objects.count() == 2


def test_import_csv_counts_profiles_created_by_email(tmp_path):
    from omnichannel.profiles import importer
    from omnichannel.profiles.services import identify

    identify(email="known@example.com")
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created_at,total,customer_id,email\n"
        "C1,2026-12-01,10.00,c1,new1@example.com\n"
        "C2,2026-12-02,20.00,c2,new2@example.com\n"
        "C3,2026-12-03,5.00,c3,known@example.com\n"
    )

    result = importer.import_orders(path, file_format="csv", currency="EUR")

    assert result.rows_imported == 3
    assert result.profiles_created == 2


def test_import_strict_error_ends_with_one_full_stop(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,created_at,total,email\nD1,2026-12-01,abc,d@example.com\n"
    )

    with pytest.raises(CommandError) as error:
        call_command(
            "omnichannel_import_orders",
            str(path),
            file_format="csv",
            strict=True,
            verbosity=0,
        )

    assert "number.. " not in str(error.value)
    assert "is not a decimal number. Nothing was imported" in str(error.value)
