from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from omnichannel.exceptions import OmnichannelError
from omnichannel.integrations import registry
from omnichannel.integrations.base import OrderAdapter

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Record the events of every order the shop already has, through the order "
        "adapters in OMNICHANNEL['SHOP_ADAPTERS']. Running it again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            help="Label of one order model to read, such as order.Order "
            "(default: every configured order adapter).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Orders fetched per query (default 500).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        adapters = {
            label: adapter
            for label, adapter in registry.configured_adapters().items()
            if isinstance(adapter, OrderAdapter)
        }
        if options["model"]:
            if options["model"] not in adapters:
                known = ", ".join(sorted(adapters)) or "none"
                raise CommandError(
                    f"{options['model']} has no order adapter in "
                    f"OMNICHANNEL['SHOP_ADAPTERS'] (configured: {known})."
                )
            adapters = {options["model"]: adapters[options["model"]]}
        if not adapters:
            raise CommandError(
                "OMNICHANNEL['SHOP_ADAPTERS'] names no order adapter; see "
                "docs/adapters.md."
            )
        for label, adapter in adapters.items():
            read, failed = self._sync(adapter, options["batch_size"])
            self.stdout.write(f"{label}: {read} orders read, {failed} failed.")

    def _sync(self, adapter: OrderAdapter, batch_size: int) -> tuple[int, int]:
        read = failed = 0
        queryset = adapter.model._default_manager.order_by("pk")
        for order in queryset.iterator(chunk_size=batch_size):
            read += 1
            try:
                with transaction.atomic():
                    registry.record_instance(adapter, order)
            except (OmnichannelError, ValueError, TypeError, LookupError) as error:
                failed += 1
                logger.warning(
                    "%s %s not recorded: %s",
                    adapter.model_label,
                    order.pk,
                    type(error).__name__,
                )
                self.stderr.write(f"{adapter.model_label} {order.pk}: {error}")
        return read, failed
