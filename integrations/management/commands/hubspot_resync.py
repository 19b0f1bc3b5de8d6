"""``manage.py hubspot_resync --email ana@example.fr`` or ``--since 2026-11-01``: send one customer (their
contact and every order of theirs) or everything changed since a date to HubSpot again."""

from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.exceptions import DomainError
from customers.models import Customer
from integrations.hubspot.sync import hubspot_resync


class Command(BaseCommand):
    help = "Send a customer, or everything changed since a date, to HubSpot again."

    def add_arguments(self, parser):
        parser.add_argument("--email", help="the customer's email")
        parser.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD: everything changed since")

    def handle(self, *args, email=None, since=None, **options):
        if bool(email) == bool(since):
            raise CommandError("Give --email or --since (one of them).")
        try:
            if email:
                customer = Customer.objects.filter(email__iexact=email).first()
                if customer is None:
                    raise CommandError(f"No customer has the email {email}.")
                counts = hubspot_resync(customer=customer)
            else:
                counts = hubspot_resync(since=timezone.make_aware(datetime.combine(since, time.min)))
        except DomainError as exc:
            raise CommandError(exc.message) from None
        contacts, deals = counts["contacts"], counts["deals"]
        self.stdout.write(f"{contacts} contact(s) and {deals} deal(s) queued for HubSpot.")
