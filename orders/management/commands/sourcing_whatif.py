import json

from django.core.management.base import BaseCommand, CommandError

from orders.models import Channel
from orders.services.whatif import sourcing_whatif


class Command(BaseCommand):
    help = "Replay the orders of a period under another sourcing strategy (no writes) and compare."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--strategy", choices=Channel.Strategy.values, default=Channel.Strategy.COST)
        parser.add_argument("--channel", help="only this channel's orders (code)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, days, strategy, channel, json: bool, **options):
        found = None
        if channel:
            found = Channel.objects.filter(code=channel).first()
            if found is None:
                raise CommandError(f"No channel with code {channel!r}.")
        if days <= 0:
            raise CommandError("--days must be at least 1.")
        report = sourcing_whatif(strategy=strategy, days=days, channel=found).as_dict()
        if json:
            self.stdout.write(_dumps(report))
            return
        a, w = report["actual"], report["what_if"]
        self.stdout.write(
            f"Orders of the last {days} day(s) replayed under '{strategy}' (in memory, no writes)"
        )
        self.stdout.write(f"{'':24}{'actual':>14}{'what-if':>14}")
        self.stdout.write(f"{'orders':24}{a['orders']:>14}{w['orders']:>14}")
        self.stdout.write(f"{'total cost (EUR)':24}{a['cost']:>14}{w['cost']:>14}")
        self.stdout.write(f"{'parcels':24}{a['parcels']:>14}{w['parcels']:>14}")
        days_actual, days_whatif = _num(a["average_promised_days"]), _num(w["average_promised_days"])
        self.stdout.write(f"{'avg promised days':24}{days_actual:>14}{days_whatif:>14}")
        self.stdout.write(f"parcels by location, actual:  {a['parcels_by_location']}")
        self.stdout.write(f"parcels by location, what-if: {w['parcels_by_location']}")
        self.stdout.write(
            f"saving with '{strategy}': {report['saving']} EUR; orders not replayed: {report['skipped']}"
        )


def _num(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
