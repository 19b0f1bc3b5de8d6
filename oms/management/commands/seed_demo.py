"""Demo data: idempotent (running it twice changes nothing). Later issues add their part here."""

import io
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from inventory.models import Location, StaffProfile
from oms.demo import seed_all
from oms.roles import CUSTOMER_SERVICE, MANAGER, STORE_STAFF, WAREHOUSE_STAFF, sync_roles
from orders.models import ApiKey, Channel

LOCATIONS = [
    # code, name, kind, address, postcode, city, latitude, longitude, storage €/unit/day, handling €/line
    (
        "lyon",
        "Entrepôt Lyon Saint-Priest",
        "warehouse",
        "12 rue du Dauphiné",
        "69800",
        "Saint-Priest",
        "45.696000",
        "4.944000",
        "0.0100",
        "0.50",
    ),
    (
        "lille",
        "Entrepôt Lille Lesquin",
        "warehouse",
        "5 rue de la Haie Plouvier",
        "59810",
        "Lesquin",
        "50.589000",
        "3.111000",
        "0.0080",
        "0.45",
    ),
    (
        "bordeaux",
        "Entrepôt Bordeaux Mérignac",
        "warehouse",
        "30 avenue Ariane",
        "33700",
        "Mérignac",
        "44.838000",
        "-0.656000",
        "0.0120",
        "0.55",
    ),
    (
        "paris-marais",
        "Magasin Paris Marais",
        "store",
        "24 rue des Francs-Bourgeois",
        "75004",
        "Paris",
        "48.857600",
        "2.360200",
        "0.0150",
        "2.50",
    ),
    (
        "marseille",
        "Magasin Marseille Vieux-Port",
        "store",
        "8 quai du Port",
        "13002",
        "Marseille",
        "43.296500",
        "5.369800",
        "0.0120",
        "2.20",
    ),
]

# username, password, first name, last name, role, locations ("*" = all)
USERS = [
    ("warehouse", "demo-warehouse-2026", "Wassim", "Entrepôt", WAREHOUSE_STAFF, ["lyon"]),
    ("store", "demo-store-2026", "Sophie", "Magasin", STORE_STAFF, ["paris-marais"]),
    ("service", "demo-service-2026", "Camille", "Service", CUSTOMER_SERVICE, "*"),
    ("manager", "demo-manager-2026", "Marc", "Manager", MANAGER, "*"),
]
ADMIN = ("admin", "demo-admin-2026")


DEMO_API_KEY = "oms_demo-web-channel-key-do-not-use-in-production"


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, username, password) of the demo users, the superuser last."""
    return [(role, username, password) for username, password, _f, _l, role, _c in USERS] + [
        ("Superuser (Django admin)", *ADMIN)
    ]


class _Lines:
    """A text stream with the ``write`` of a command's stdout (one line per call)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(text + "\n")


def write_logins(out, *, logins=None, api_key: str = DEMO_API_KEY) -> None:
    out.write(f"Demo API key of the web channel (all scopes): {api_key}")
    out.write("Demo logins (role: username / password):")
    for role, username, password in logins or demo_logins():
        out.write(f"  {role:26} {username} / {password}")


def _demo_api_key() -> str:
    """A known key for the demo's web channel, so the API docs can be tried at once. Demo data only."""
    ApiKey.objects.get_or_create(
        hashed_key=ApiKey.hash(DEMO_API_KEY),
        defaults={
            "channel": Channel.objects.get(code="web"),
            "name": "demo",
            "prefix": DEMO_API_KEY[:12],
            "scopes": [ApiKey.Scope.ALL],
        },
    )
    return DEMO_API_KEY


class Command(BaseCommand):
    help = "Load the demo data (locations, one user per role...). Safe to run again: it changes nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-forecast",
            action="store_true",
            help="Leave the first sales forecast to beat (`make run`: the in-process beat computes it "
            "in the background once the server answers).",
        )
        parser.add_argument(
            "--logins-file",
            default="",
            help="Also write the demo's API key and logins to this file (`make run` prints it once the "
            "server answers, without starting Django once more).",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            logins = self._staff()
        # Orders go through the real intake service, whose transactions are durable (not nested). They notify
        # their (fictitious) customers like real orders; when tasks run eagerly (no broker: `make run` on
        # SQLite) the console backend would print every demo email here and bury the logins, so the demo's
        # emails go to the dummy backend. With a broker, the worker sends them (console backend: its log).
        quiet = (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
            if settings.CELERY_TASK_ALWAYS_EAGER
            else nullcontext()
        )
        with quiet:
            figures = seed_all(forecast=not options["no_forecast"])
        api_key = _demo_api_key()

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: {figures['products']} products, {figures['orders_created']} new orders."
            )
        )
        if options["verbosity"] >= 1:
            write_logins(self.stdout, logins=logins, api_key=api_key)
        if options["logins_file"]:
            buffer = io.StringIO()
            write_logins(_Lines(buffer), logins=logins, api_key=api_key)
            Path(options["logins_file"]).write_text(buffer.getvalue(), encoding="utf-8")

    def _staff(self) -> list[tuple[str, str, str]]:
        sync_roles()
        for code, name, kind, line1, postcode, city, lat, lng, storage, handling in LOCATIONS:
            Location.objects.update_or_create(
                code=code,
                defaults={
                    "storage_cost_per_unit_day": Decimal(storage),
                    "handling_cost_per_line": Decimal(handling),
                    "is_pickup_point": kind == "store",
                    "opening_hours": "Lun.–sam. 10:00–19:30" if kind == "store" else "",
                    "aisle_order": "A,B,C,D" if kind == "warehouse" else "",
                    "name": name,
                    "kind": kind,
                    "address_line1": line1,
                    "postcode": postcode,
                    "city": city,
                    "country": "FR",
                    "latitude": Decimal(lat),
                    "longitude": Decimal(lng),
                    "active": True,
                },
            )
        User = get_user_model()
        logins = []
        for username, password, first, last, role, codes in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.oms.localhost"},
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
            user.groups.set([Group.objects.get(name=role)])
            profile, _ = StaffProfile.objects.get_or_create(user=user)
            profile.all_locations = codes == "*"
            profile.save(update_fields=["all_locations"])
            profile.locations.set([] if codes == "*" else Location.objects.filter(code__in=codes))
            logins.append((role, username, password))
        admin, created = User.objects.get_or_create(
            username=ADMIN[0],
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@demo.oms.localhost"},
        )
        if created:
            admin.set_password(ADMIN[1])
            admin.save(update_fields=["password"])
        logins.append(("Superuser (Django admin)", *ADMIN))
        return logins
