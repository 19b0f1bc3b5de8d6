"""INSERTs of the hot paths, compiled by the ORM once per process.

``Model.objects.create`` and ``bulk_create`` compile the same ``INSERT`` text on every call (and ``save``
sends its signals, walks its parents...): on the order intake that was a tenth of the request's Python. Here
the statement is compiled by Django's own compiler the first time a shape is seen (the model, the number of
rows, which fields take their database default, the conflict clause) and kept; each call then only converts
the values exactly as the compiler does (``pre_save``: ``auto_now_add``, defaults; ``get_db_prep_save``:
JSON, decimals, dates). The rows get their primary key and the fields the database fills (``db_default``,
e.g. the order's number) from ``RETURNING``, and are left as ``save`` leaves them (not ``adding``, their
database set). No signal is sent: use it only for models that have no ``pre_save`` / ``post_save``
receivers (a test asserts it for the ones used here).

The channels' webhook accept path does the same for one model (``channels/services.py`` ``_insert_once``).
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import BooleanField, CharField, EmailField, SlugField, TextField
from django.db.models.expressions import DatabaseDefault
from django.db.models.sql import InsertQuery

_compiled: dict[tuple, tuple[str, list]] = {}

# Fields of exactly these classes take their value as it is when it is None or an instance of the type
# (``Field.pre_save`` is a plain read, and ``get_db_prep_save`` returns such a value unchanged: a text field's
# ``to_python`` keeps any ``str``, an enum's member included; ``bool`` has no subclass): the order's row is
# mostly such text. A subclass of these fields (an encrypted field...) or any other value (a lazy string, a
# number) goes through Django's conversion.
_PLAIN = {CharField: str, TextField: str, EmailField: str, SlugField: str, BooleanField: bool}


def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]


def _value(field, plain, obj, connection):
    """``field.get_db_prep_save(field.pre_save(obj, True), connection)``, without those calls when plain."""
    if plain is not None:
        value = getattr(obj, field.attname)
        if value is None or isinstance(value, plain):
            return value
        return field.get_db_prep_save(value, connection)
    return field.get_db_prep_save(field.pre_save(obj, True), connection)


def insert_rows(objs: list, *, conflict: tuple[str, ...] = ()) -> list[bool]:
    """Insert ``objs`` (new rows of one model, primary key unset) in one statement. ``conflict``: the
    columns of a unique constraint for ``ON CONFLICT (...) DO NOTHING`` (a row already there is skipped,
    False for it; only for one row at a time). True for each row inserted, which then has its primary key
    and database defaults."""
    if not objs:
        return []
    model = type(objs[0])
    if conflict and len(objs) != 1:
        raise ValueError("ON CONFLICT DO NOTHING: one row at a time (the rows returned are not matched)")
    using = router.db_for_write(model)
    connection = connections[using]
    fields = _fields(model)
    # Which fields take their database default (``db_default`` left unset): part of the statement's shape.
    shapes = {
        tuple(i for i, f in enumerate(fields) if isinstance(getattr(obj, f.attname), DatabaseDefault))
        for obj in objs
    }
    if len(shapes) != 1:
        raise ValueError("every row must leave the same fields to their database default")
    defaults = shapes.pop()
    key = (model, using, len(objs), defaults, conflict)
    known = _compiled.get(key)
    if known is None:
        returning = list(model._meta.db_returning_fields)
        query = InsertQuery(model)
        query.insert_values(fields, objs)
        compiler = query.get_compiler(using=using)
        compiler.returning_fields = returning
        [(sql, _params)] = compiler.as_sql()
        if conflict:
            quote = connection.ops.quote_name
            # Django's compiler put RETURNING last: the conflict clause goes before it.
            head, _, tail = sql.rpartition(" RETURNING ")
            sql = f"{head} ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING RETURNING {tail}"
        # PostgreSQL's compiler inserts several plain rows as UNNEST of one array per column (Django 5.2).
        known = _compiled[key] = (sql, returning, "UNNEST(" in sql)
    sql, returning, by_column = known
    kept = [(f, _PLAIN.get(type(f))) for i, f in enumerate(fields) if i not in defaults]
    rows = [[_value(f, plain, obj, connection) for f, plain in kept] for obj in objs]
    params = (
        [list(column) for column in zip(*rows, strict=True)] if by_column else [p for r in rows for p in r]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    if conflict and not returned:
        return [False]
    for obj, row in zip(objs, returned, strict=True):
        for field, value in zip(returning, row, strict=True):
            for converter in field.get_db_converters(connection):
                value = converter(value, field, connection)
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = using
    return [True] * len(objs)
