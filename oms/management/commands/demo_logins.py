"""Print where the demo answers and its logins: the last lines of `make run` (bin/serve)."""

from django.core.management.base import BaseCommand

from .seed_demo import write_logins


class Command(BaseCommand):
    help = "Print the back office's URL and the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, **options):
        url = options["url"]
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"The back office is ready: {url}"))
        self.stdout.write(f"  Django admin: {url}admin/    API docs: {url}api/v1/docs/")
        write_logins(self.stdout)
        self.stdout.write("Stop with Ctrl+C.")
