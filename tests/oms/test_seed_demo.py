from django.contrib.auth import get_user_model
from django.core.management import call_command

from inventory.models import Location


def _snapshot():
    User = get_user_model()
    return (
        list(Location.objects.order_by("code").values_list("code", "name", "kind", "latitude", "longitude")),
        list(User.objects.order_by("username").values_list("username", "password", "groups__name")),
    )


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    first = _snapshot()
    out = capsys.readouterr().out
    assert "manager / demo-manager-2026" in out
    call_command("seed_demo")
    assert _snapshot() == first
    assert Location.objects.filter(kind="warehouse").count() == 3
    assert Location.objects.filter(kind="store").count() == 2
