"""Many new rows of one model in one ``INSERT``, the rows travelling as one JSON parameter (as
``common.eventlog`` writes events): one ``json.dumps`` of plain values instead of Django's per-field
preparation of each value (``bulk_create`` compiles a ``VALUES`` row of placeholders per object and the driver
quotes every parameter), which was a fifth of a batch order's CPU. PostgreSQL only.

Only for models whose concrete fields are all of the plain types below (``plain(model)`` says). The rows are
built (``row``) before they are written (``rows_write``): a caller can build them before it takes its locks.
The objects' ids are given (from their sequences, ``ids_next``: rows built before they are written can point
to each other) or all left to the sequence (returned).
"""

import json
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, models
from django.db.models.expressions import DatabaseDefault

_PLAIN = {
    models.BigAutoField,
    models.AutoField,
    models.CharField,
    models.TextField,
    models.EmailField,
    models.BooleanField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.DecimalField,
    models.DateTimeField,
    models.DateField,
    models.ForeignKey,
    models.JSONField,
}

_plans: dict[type, tuple | None] = {}


def _plan(model) -> tuple | None:
    """(fields, SQL) of ``model``'s insert, or None when a field is not plain."""
    if model in _plans:
        return _plans[model]
    fields = list(model._meta.concrete_fields)
    if any(type(f) not in _PLAIN for f in fields):
        _plans[model] = None
        return None
    selects = []
    for i, f in enumerate(fields):
        if isinstance(f, models.JSONField):
            selects.append(f"(e->>{i})::jsonb")  # the value as Django would dump it, as text
        else:
            column_type = (f.target_field if isinstance(f, models.ForeignKey) else f).db_type(connection)
            selects.append(f"(e->>{i})::{column_type}")
    table, pk = model._meta.db_table, model._meta.pk
    sqls = []
    for with_pk in (True, False):  # the ids given, or from the sequence and returned
        chosen = [(f, x) for f, x in zip(fields, selects, strict=True) if with_pk or f is not pk]
        columns = ", ".join(f'"{f.column}"' for f, _x in chosen)
        sqls.append(
            f'INSERT INTO "{table}" ({columns}) '  # noqa: S608 - the model's own table
            f"SELECT {', '.join(x for _f, x in chosen)} "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n"
            + ("" if with_pk else f' RETURNING "{pk.column}"')
        )
    kinds = [
        (
            f,
            1
            if isinstance(f, models.ForeignKey)
            else 2
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add)
            else 3
            if isinstance(f, models.JSONField)
            else 0,
        )
        for f in fields
    ]
    _plans[model] = (fields, sqls[0], sqls[1], kinds)
    return _plans[model]


def plain(model) -> bool:
    return connection.vendor == "postgresql" and _plan(model) is not None


def column(model, attname: str) -> int:
    """The position of ``attname`` in ``model``'s rows (to patch a value known later)."""
    return [f.attname for f in _plan(model)[0]].index(attname)


def _value(field, value):
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder)
    if isinstance(value, str | int):  # bool and the choices' enum members too: json writes them plainly
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and isinstance(field, models.DecimalField):
        return str(field.to_python(value))  # as Django converts it
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, DatabaseDefault):
        raise TypeError(f"{field.name}: left to the database's default; give it a value")
    raise TypeError(f"{field.name}: {value!r} is not a plain value")


_SIMPLE = (str, int, bool, type(None))
# What ``_value`` gives for a value of exactly these classes outside a JSON field, without its checks.
_TEXT = {Decimal: str, datetime: datetime.isoformat, date: date.isoformat}
# An empty JSON value's text whatever the field's encoder (the defaults ``dict`` and ``list`` of most fields).
_EMPTY_JSON = {dict: "{}", list: "[]"}


def row(model, obj, *, now) -> list:
    """``obj``'s row (its id set): foreign keys to objects given by instance resolved, ``auto_now(_add)``
    dates set to ``now``, as ``bulk_create`` would."""
    values = []
    append = values.append
    known = obj.__dict__  # the fields' values (Django's attributes read them from there once loaded)
    for f, kind in _plan(model)[3]:
        attname = f.attname
        if kind == 1:  # a foreign key: to an object saved since it was assigned, as bulk_create does
            if getattr(obj, attname) is None and f.is_cached(obj):
                related = f.get_cached_value(obj)
                if related is not None:
                    setattr(obj, attname, related.pk)
        elif kind == 2 and (f.auto_now or getattr(obj, attname) is None):
            setattr(obj, attname, now)
        value = known[attname] if attname in known else getattr(obj, attname)
        cls = value.__class__
        if kind != 3:
            if cls in _SIMPLE:
                append(value)
            elif cls in _TEXT:
                append(_TEXT[cls](value))
            else:
                append(_value(f, value))
        elif not value and cls in _EMPTY_JSON:
            append(_EMPTY_JSON[cls])
        else:
            append(_value(f, value))
    return values


def rows_write(model, rows: list[list], objs: list) -> None:
    """Insert ``rows`` (built by ``row`` from ``objs``) in one statement; ``objs`` are then stored. Objects
    without ids get theirs from the sequence (``RETURNING``, in the rows' order)."""
    if not rows:
        return
    _fields, with_pk, without_pk, _kinds = _plan(model)
    with connection.cursor() as cursor:
        if objs[0].pk is not None:
            cursor.execute(with_pk, [json.dumps(rows)])
        else:
            cursor.execute(without_pk, [json.dumps(rows)])  # the id column (null) is not read
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
    alias = connection.alias  # read once: ``connection`` is a proxy looked up per access
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


_IDS = "SELECT {}"
_NEXT = "ARRAY(SELECT nextval(%s) FROM generate_series(1, %s))"


def ids_next(counts: list[tuple[str, int]]) -> list[list[int]]:
    """``count`` values of each sequence ``(name, count)``, in one statement (outside any transaction's
    locks: a sequence is not rolled back, so a value taken for a row not written is a gap, as with any
    rolled-back insert)."""
    with connection.cursor() as cursor:
        cursor.execute(_IDS.format(", ".join([_NEXT] * len(counts))), [x for pair in counts for x in pair])
        return [list(values) for values in cursor.fetchone()]


def serial(model) -> str:
    """The name of the sequence of ``model``'s id."""
    return f"{model._meta.db_table}_{model._meta.pk.column}_seq"
