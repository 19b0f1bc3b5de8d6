"""Which settings each entry point uses, and what production refuses to start with (issue 13, point 5).

The entry points are imported in fresh processes: the choice of settings happens at import time, before
Django is configured, so it cannot be observed inside the test process (which runs oms.settings.test)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from oms.settings import guards

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET_KEY = "p4L9xQ2vR7mK1sT8wZ3nB6yC0dF5gH-jU_eA2iO7lN9qS4tV1xW8zE3rY6uI0oP5aM"
GOOD_FERNET_KEY = "Tiu5oA6uoGM4k2RRdzOUWh9GnJ8T2kwPFCih5UaHxUI="
PRINT_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SECRET_KEY == {key!r})"
)


def _run(code: str, *, env: dict, args: tuple = ()) -> subprocess.CompletedProcess:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "OMS_ENCRYPTION"))
    }
    clean["DJANGO_ENV_FILE"] = str(ROOT / "var" / "no-such.env")  # a developer's .env never leaks in
    clean.update(env)
    command = [sys.executable, *args] if args else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": GOOD_SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": "oms.example.com",
    "OMS_ENCRYPTION_KEYS": GOOD_FERNET_KEY,
}


@pytest.mark.parametrize("module", ["oms.wsgi", "oms.asgi"])
def test_web_entry_points_default_to_production_and_refuse_to_start_without_secrets(module):
    # given no DJANGO_SETTINGS_MODULE and no secret: gunicorn (or an ASGI server) importing the module
    result = _run(f"import {module}", env={})
    # then the import fails with the reason, instead of serving in debug mode with the development key
    assert result.returncode == 1
    expected = "ImproperlyConfigured: Production refuses to start: DJANGO_SECRET_KEY is not set"
    assert expected in result.stderr


@pytest.mark.parametrize("module", ["oms.wsgi", "oms.asgi"])
def test_web_entry_points_serve_production_settings_when_configured(module):
    result = _run(f"import {module}; " + PRINT_SETTINGS.format(key=GOOD_SECRET_KEY), env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "oms.settings.production False True"


def test_web_entry_point_keeps_an_explicit_settings_module():
    result = _run(
        "import oms.wsgi; " + PRINT_SETTINGS.format(key=GOOD_SECRET_KEY),
        env={"DJANGO_SETTINGS_MODULE": "oms.settings.local", "DJANGO_SECRET_KEY": GOOD_SECRET_KEY},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "oms.settings.local True True"


def test_manage_py_defaults_to_local_settings():
    result = _run(
        "",
        env={},
        args=("manage.py", "shell", "-c", PRINT_SETTINGS.format(key=guards.DEVELOPMENT_SECRET_KEY)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "oms.settings.local True True"


def test_celery_command_defaults_to_local_settings():
    # `celery -A oms ...` as started by bin/serve: the development settings, like manage.py
    result = _run("", env={}, args=("-m", "celery", "-A", "oms", "report"))
    assert result.returncode == 0, result.stderr
    assert "SETTINGS_MODULE: 'oms.settings.local'" in result.stdout


def test_celery_command_keeps_production_settings_of_the_environment():
    # docker-compose's worker and beat set DJANGO_SETTINGS_MODULE=oms.settings.production
    result = _run(
        "",
        env={"DJANGO_SETTINGS_MODULE": "oms.settings.production", **PRODUCTION_ENV},
        args=("-m", "celery", "-A", "oms", "report"),
    )
    assert result.returncode == 0, result.stderr
    assert "SETTINGS_MODULE: 'oms.settings.production'" in result.stdout
    assert GOOD_FERNET_KEY not in result.stdout  # keys are masked in the report


def test_production_refuses_the_development_key_in_a_real_process():
    result = _run(
        "import oms.wsgi",
        env={**PRODUCTION_ENV, "DJANGO_SECRET_KEY": guards.DEVELOPMENT_SECRET_KEY},
    )
    assert result.returncode == 1
    assert "Production refuses to start: DJANGO_SECRET_KEY is the development key" in result.stderr


def test_production_refuses_to_start_without_encryption_keys_in_a_real_process():
    env = {**PRODUCTION_ENV}
    del env["OMS_ENCRYPTION_KEYS"]
    result = _run("import oms.wsgi", env=env)
    assert result.returncode == 1
    assert "OMS_ENCRYPTION_KEYS is not usable (no key is configured)" in result.stderr


SHORT = "DJANGO_SECRET_KEY is too short"
NOT_RANDOM = "DJANGO_SECRET_KEY is not random enough (too few different characters, or a repeated pattern)"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "DJANGO_SECRET_KEY is not set"),
        (guards.DEVELOPMENT_SECRET_KEY, "DJANGO_SECRET_KEY is the development key"),
        ("django-insecure-" + "x7Rq2pL9" * 8, "DJANGO_SECRET_KEY is the development key"),
        ("change-me-to-50-random-characters", "DJANGO_SECRET_KEY is a placeholder"),
        ("build", "DJANGO_SECRET_KEY is too short (5 characters, at least 50)"),
        ("Zq8vR2mK1sT8wZ3nB6yC0dF5gH9jU4eA2iO7lN", f"{SHORT} (38 characters, at least 50)"),
        ("ab" * 40, NOT_RANDOM),
        ("a1b2c3d4e5f6g7h8" * 5, NOT_RANDOM),
    ],
)
def test_secret_key_refusals(key, reason):
    with pytest.raises(ImproperlyConfigured) as refused:
        guards.require_secret_key(key)
    assert str(refused.value).startswith(f"Production refuses to start: {reason}; make one with: ")


def test_random_secret_keys_are_accepted():
    import secrets

    from django.core.management.utils import get_random_secret_key

    for key in (GOOD_SECRET_KEY, get_random_secret_key(), secrets.token_urlsafe(50), secrets.token_hex(32)):
        assert guards.require_secret_key(key) == key


@pytest.mark.parametrize(
    ("hosts", "reason"),
    [
        ([], "DJANGO_ALLOWED_HOSTS is not set"),
        ([" "], "DJANGO_ALLOWED_HOSTS is not set"),
        (["oms.example.com", "*"], "DJANGO_ALLOWED_HOSTS may not be '*'"),
    ],
)
def test_allowed_hosts_refusals(hosts, reason):
    with pytest.raises(ImproperlyConfigured, match=reason):
        guards.require_allowed_hosts(hosts)
    assert guards.require_allowed_hosts(["oms.example.com", " www.example.com"]) == [
        "oms.example.com",
        "www.example.com",
    ]


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ([], r"no key is configured"),
        (["not-a-key"], r"key number 1 is not a Fernet key"),
        ([GOOD_FERNET_KEY, GOOD_FERNET_KEY[:-2]], r"key number 2 is not a Fernet key"),
        ([GOOD_FERNET_KEY, GOOD_FERNET_KEY], r"the same key is listed twice"),
    ],
)
def test_encryption_key_refusals(keys, reason):
    with pytest.raises(ImproperlyConfigured, match=reason):
        guards.require_encryption_keys(keys)
    assert guards.require_encryption_keys([f" {GOOD_FERNET_KEY} "]) == [GOOD_FERNET_KEY]
