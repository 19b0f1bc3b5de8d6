"""Statements planned for their own parameters, never on a prepared statement's generic plan.

With server-side binding (``DB_SERVER_SIDE_BINDING``) psycopg prepares a statement once it has run
``DB_PREPARE_THRESHOLD`` times on a connection, and PostgreSQL may then plan it once for any parameters (after
five custom plans, when the generic plan's estimated cost is no worse). That is what the hot paths want — the
same rows each time, planned once — and what a search form does not: the order list's filters choose a
status, a channel and a month whose selectivities differ by orders of magnitude, and a generic plan suited to
a common status (walk the month's orders newest first) reads a whole month to count a rare one (10 M orders:
one page in twenty at 2.2 s). Inside ``custom_plans()`` every statement is sent unprepared (psycopg's
``prepare_threshold`` set to ``None`` for each execution, restored after), so PostgreSQL plans it with its
parameters; the connections' prepared statements stay for everyone else.
"""

import contextlib

from django.db import connections


def _unprepared(execute, sql, params, many, context):
    raw = context["connection"].connection
    if not hasattr(raw, "prepare_threshold"):  # psycopg 3 only; SQLite prepares nothing of the sort
        return execute(sql, params, many, context)
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        return execute(sql, params, many, context)
    finally:
        raw.prepare_threshold = threshold


@contextlib.contextmanager
def custom_plans():
    """Statements of this block, on every database alias, planned for their parameters (see the module)."""
    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(_unprepared))
        yield
