"""Re-encrypt every secret at rest with the current encryption key (the first of OMS_ENCRYPTION_KEYS).

Every ``EncryptedTextField`` of every installed model is found by itself. Rows are read in primary-key order,
in batches, each batch in its own transaction under row locks (a manager saving a secret meanwhile waits, and
is never overwritten). A value already under the current key is left alone, so the command can be run again,
or resumed after an interruption, at no risk. ``--check`` changes nothing and exits 1 while a value still
needs an old key: run it before removing the old key."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from common import crypto
from common.audit import Action, audit_record
from common.fields import EncryptedTextField


def encrypted_fields() -> list[tuple[type, list]]:
    """(model, [its encrypted fields]) for every concrete model that has some."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        fields = [f for f in meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return found


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of OMS_ENCRYPTION_KEYS (idempotent, resumable). "
        "--check only counts the secrets still under an old key (exit 1 if any)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="change nothing; exit 1 if a secret needs an old key"
        )
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")

    def handle(self, *args, check: bool, batch_size: int, **options):
        if batch_size <= 0:
            raise CommandError("--batch-size must be at least 1.")
        totals = {"rotated": 0, "current": 0, "old": 0}
        failures: list[str] = []
        for model, fields in encrypted_fields():
            counts = self._model(model, fields, check=check, batch_size=batch_size, failures=failures)
            for name, count in counts.items():
                totals[name] += count
        if check:
            self.stdout.write(
                f"{totals['current']} secrets under the current key, {totals['old']} under an old key."
            )
        else:
            self.stdout.write(
                f"{totals['rotated']} secrets re-encrypted with the current key, "
                f"{totals['current']} already under it."
            )
            if totals["rotated"]:
                audit_record(
                    action=Action.SECRET_CHANGED,
                    target_label="rotate_encryption_key",
                    details={
                        "operation": "rotated",
                        "rotated": totals["rotated"],
                        "current": totals["current"],
                    },
                )
        if failures:
            raise CommandError(
                f"{len(failures)} secrets cannot be decrypted with any key of OMS_ENCRYPTION_KEYS: "
                + ", ".join(failures[:20])
            )
        if check and totals["old"]:
            raise CommandError(
                f"{totals['old']} secrets still need an old key: run rotate_encryption_key without --check.",
                returncode=1,
            )

    def _model(self, model, fields, *, check: bool, batch_size: int, failures: list[str]) -> dict:
        quote = connection.ops.quote_name
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        columns = [quote(f.column) for f in fields]
        counts = {"rotated": 0, "current": 0, "old": 0}
        last = None
        while True:
            with transaction.atomic():
                where = f"WHERE {pk} > %s " if last is not None else ""
                lock = "" if check or connection.vendor == "sqlite" else " FOR UPDATE"
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {pk}, {', '.join(columns)} FROM {table} {where}"  # noqa: S608 (quoted names)
                        f"ORDER BY {pk} LIMIT %s{lock}",
                        [last, batch_size] if last is not None else [batch_size],
                    )
                    rows = cursor.fetchall()
                for row in rows:
                    last = row[0]
                    for field, column, value in zip(fields, columns, row[1:], strict=True):
                        if not value:
                            continue
                        if crypto.is_current(value):
                            counts["current"] += 1
                            continue
                        try:
                            rotated = crypto.rotate(value)
                        except crypto.DecryptionError:
                            failures.append(f"{model._meta.label}.{field.name} #{row[0]}")
                            continue
                        if check:
                            counts["old"] += 1
                            continue
                        with connection.cursor() as cursor:
                            cursor.execute(
                                f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608 (quoted names)
                                [rotated, row[0]],
                            )
                        counts["rotated"] += 1
            if len(rows) < batch_size:
                break
        label = f"{model._meta.label} ({', '.join(f.name for f in fields)})"
        if check:
            self.stdout.write(
                f"{label}: {counts['current']} under the current key, {counts['old']} under an old key"
            )
        else:
            self.stdout.write(
                f"{label}: {counts['rotated']} re-encrypted, {counts['current']} already current"
            )
        return counts
