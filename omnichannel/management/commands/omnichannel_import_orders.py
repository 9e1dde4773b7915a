from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from omnichannel.exceptions import ImportRowError
from omnichannel.profiles.importer import FORMATS, import_orders


class Command(BaseCommand):
    help = (
        "Import an order history into profiles and order events. Running it again on "
        "the same file adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="File to import.")
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=FORMATS,
            required=True,
            help="cdnow: whitespace-separated CDNOW rows; csv: a CSV file with a "
            "header (order_id, created_at, total, customer_id/email/phone, ...).",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Stop at the first row that does not parse and write nothing.",
        )
        parser.add_argument(
            "--currency",
            help="ISO 4217 code of amounts without one (default: DEFAULT_CURRENCY).",
        )
        parser.add_argument(
            "--max-errors-shown",
            type=int,
            default=20,
            help="How many bad rows to list (default 20); all are counted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        total_lines = sum(1 for _ in path.open(encoding="utf-8", errors="replace"))
        with tqdm(
            total=total_lines,
            unit="rows",
            desc="import",
            disable=options["verbosity"] == 0 or None,
            file=self.stderr._out,
        ) as bar:
            try:
                result = import_orders(
                    path,
                    file_format=options["file_format"],
                    strict=options["strict"],
                    currency=options["currency"],
                    progress=bar.update,
                )
            except ImportRowError as error:
                message = str(error).rstrip(".")
                raise CommandError(
                    f"{path}: {message}. Nothing was imported (--strict)."
                ) from error
            except UnicodeDecodeError as error:
                raise CommandError(
                    f"{path} is not UTF-8 text ({error.reason} at byte {error.start})."
                ) from error

        for error in result.errors[: options["max_errors_shown"]]:
            self.stderr.write(f"{path}: {error}")
        if len(result.errors) > options["max_errors_shown"]:
            hidden = len(result.errors) - options["max_errors_shown"]
            self.stderr.write(f"... and {hidden} more bad rows.")
        self.stdout.write(
            f"Rows imported: {result.rows_imported}; already present: "
            f"{result.rows_skipped_existing}; bad rows skipped: {len(result.errors)}; "
            f"profiles created: {result.profiles_created}."
        )
