from django.core.management.base import BaseCommand, CommandError

from orders.models import ApiKey, Channel
from orders.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a channel and print it alone on stdout (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("channel", help="the channel's code")
        parser.add_argument(
            "--scopes",
            default="all",
            help=f"comma separated among {', '.join(ApiKey.Scope.values)} (default all)",
        )
        parser.add_argument("--name", default="", help="a label to recognise the key by")

    def handle(self, *args, channel, scopes, name, **options):
        found = Channel.objects.filter(code=channel).first()
        if found is None:
            raise CommandError(f"No channel with code {channel!r}.")
        try:
            _key, raw = api_key_create(
                channel=found, scopes=[s.strip() for s in scopes.split(",") if s.strip()], name=name
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
