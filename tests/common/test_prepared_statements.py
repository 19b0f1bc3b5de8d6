"""Server-side binding and prepared statements on PostgreSQL (settings ``DB_SERVER_SIDE_BINDING``): the
parameters go apart from the statement and a statement run twice on a connection is prepared there."""

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _prepared(sql_start: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [sql_start + "%"]
        )
        return cursor.fetchone()[0]


def test_the_connection_binds_on_the_server_and_prepares_hot_statements():
    if settings.DATABASE_PGBOUNCER or not settings.DB_SERVER_SIDE_BINDING:
        pytest.skip("server-side binding is off in this configuration")
    # given
    options = connection.settings_dict["OPTIONS"]
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == settings.DB_PREPARE_THRESHOLD == 2
    connection.ensure_connection()
    assert connection.connection.prepared_max == settings.DB_PREPARED_MAX
    sql = "SELECT count(*) FROM common_domainevent WHERE id > %s AND code = %s"
    # when
    with connection.cursor() as cursor:
        for i in range(3):
            cursor.execute(sql, [i, "order.created"])
            assert cursor.fetchone() == (0,)
    # then: prepared once, with PostgreSQL's own placeholders (the values were not inlined)
    assert _prepared("SELECT count(*) FROM common_domainevent WHERE id > $1 AND code = $2") == 1


def test_custom_plans_sends_its_statements_unprepared_and_keeps_the_others():
    """A search form's statements are planned for their parameters (common/plans.py): never prepared, so
    never on a generic plan; outside the block the connection prepares as before."""
    if settings.DATABASE_PGBOUNCER or not settings.DB_SERVER_SIDE_BINDING:
        pytest.skip("server-side binding is off in this configuration")
    from common.plans import custom_plans

    inside = "SELECT count(*) FROM common_domainevent WHERE id > %s AND code = %s AND version >= 0"
    outside = "SELECT count(*) FROM common_domainevent WHERE id > %s AND code = %s AND version >= 1"
    # when
    with custom_plans(), connection.cursor() as cursor:
        for i in range(8):
            cursor.execute(inside, [i, "order.created"])
            assert cursor.fetchone() == (0,)
    with connection.cursor() as cursor:
        for i in range(3):
            cursor.execute(outside, [i, "order.created"])
    # then
    assert (
        _prepared("SELECT count(*) FROM common_domainevent WHERE id > $1 AND code = $2 AND version >= 0") == 0
    )
    assert (
        _prepared("SELECT count(*) FROM common_domainevent WHERE id > $1 AND code = $2 AND version >= 1") == 1
    )
    assert connection.connection.prepare_threshold == settings.DB_PREPARE_THRESHOLD
