"""Recompute every stock level from the ledger and every reservation from the orders' allocations, and
report any difference. There must never be one: the command exits 1 if it finds any."""

import json

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import ledger_differences
from orders.selectors import reservation_differences


class Command(BaseCommand):
    help = "Check on_hand against the ledger and reserved against allocations; exit 1 on any difference."

    def handle(self, *args, **options):
        ledger = ledger_differences()
        reservations = reservation_differences()
        for problem in ledger:
            self.stdout.write(f"LEDGER {json.dumps(problem, default=str)}")
        for problem in reservations:
            self.stdout.write(f"RESERVED {json.dumps(problem, default=str)}")
        if ledger or reservations:
            raise CommandError(f"{len(ledger)} ledger and {len(reservations)} reservation difference(s).")
        self.stdout.write(
            self.style.SUCCESS("Stock audit clean: on hand matches the ledger, reserved matches allocations.")
        )
