"""What production refuses to start with: checks run while ``oms.settings.production`` is imported, so a
web server, a worker or beat started with a missing or weak secret stops at once with a clear message
instead of serving with it."""

from django.core.exceptions import ImproperlyConfigured

from common.crypto import encryption_keys_problem

DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-change-me"  # noqa: S105 (the known one, refused)
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 10
PLACEHOLDERS = ("change-me", "changeme", "insecure", "secret-key", "your-secret")
HOW_TO_MAKE_ONE = 'make one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'


def _repeats(value: str) -> bool:
    """Whether the value is a shorter pattern repeated ("abcdefgh" × 8)."""
    return any(
        len(value) % period == 0 and value == value[:period] * (len(value) // period)
        for period in range(1, len(value) // 2 + 1)
    )


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` is not a real secret key (a sentence), or None."""
    if not key:
        return "DJANGO_SECRET_KEY is not set"
    if key == DEVELOPMENT_SECRET_KEY or key.startswith("django-insecure-"):
        return "DJANGO_SECRET_KEY is the development key"
    if any(word in key.lower() for word in PLACEHOLDERS):
        return "DJANGO_SECRET_KEY is a placeholder"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"DJANGO_SECRET_KEY is too short ({len(key)} characters, at least {MIN_SECRET_KEY_LENGTH})"
    if len(set(key)) < MIN_SECRET_KEY_CHARACTERS or _repeats(key):
        return "DJANGO_SECRET_KEY is not random enough (too few different characters, or a repeated pattern)"
    return None


def require_secret_key(key: str) -> str:
    problem = secret_key_problem(key)
    if problem:
        raise ImproperlyConfigured(f"Production refuses to start: {problem}; {HOW_TO_MAKE_ONE}.")
    return key


def require_allowed_hosts(hosts: list[str]) -> list[str]:
    hosts = [host.strip() for host in hosts if host.strip()]
    if not hosts:
        raise ImproperlyConfigured(
            "Production refuses to start: DJANGO_ALLOWED_HOSTS is not set (the host names this site answers "
            "to, comma-separated, e.g. oms.example.com)."
        )
    if "*" in hosts:
        raise ImproperlyConfigured(
            "Production refuses to start: DJANGO_ALLOWED_HOSTS may not be '*' (any Host header would be "
            "trusted in the links of emails); list the host names."
        )
    return hosts


def require_encryption_keys(keys: list[str]) -> list[str]:
    keys = [key.strip() for key in keys if key.strip()]
    problem = encryption_keys_problem(keys)
    if problem:
        raise ImproperlyConfigured(
            f"Production refuses to start: OMS_ENCRYPTION_KEYS is not usable ({problem}). It encrypts the "
            "secrets stored in the database (channel credentials...); see README, “Secrets at rest”."
        )
    return keys
