"""``emit_many`` writes several events with one ``INSERT ... SELECT FROM unnest(...)`` on PostgreSQL: the
rows are those ``bulk_create`` wrote (every column, the transaction id by the column's default), in order."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from common import eventlog
from common.models import DomainEvent


@pytest.mark.django_db
def test_emit_many_writes_every_column_in_order(django_assert_num_queries):
    user = get_user_model().objects.create_user(username="ana", password="x")
    events = [
        eventlog.NewEvent("test.one", {"a": [1, "é", None], "b": "2.00"}, 5, "order:5", user, 2),
        eventlog.NewEvent("test.two", {}, None, "s" * 150, None),
        eventlog.NewEvent("test.three", {"nested": {"x": True}}, 7),
    ]
    with transaction.atomic(), django_assert_num_queries(1):
        rows = eventlog.emit_many(events)
    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    assert all(not r._state.adding for r in rows)
    stored = list(DomainEvent.objects.filter(pk__in=[r.pk for r in rows]).order_by("id"))
    assert [(e.code, e.version, e.payload, e.order_id, e.subject, e.actor_id) for e in stored] == [
        ("test.one", 2, {"a": [1, "é", None], "b": "2.00"}, 5, "order:5", user.pk),
        ("test.two", 1, {}, None, "s" * 100, None),
        ("test.three", 1, {"nested": {"x": True}}, 7, "", None),
    ]
    assert len({e.created_at for e in stored}) == 1
    if connection.vendor == "postgresql":
        assert {e.xid for e in stored} == {rows[0].xid} and rows[0].xid is not None


@pytest.mark.django_db
def test_emit_many_without_instances_writes_the_same_rows(django_assert_num_queries):
    events = [eventlog.NewEvent("test.one", {"a": 1}, 5, "order:5"), eventlog.NewEvent("test.two", {}, 6)]
    with transaction.atomic(), django_assert_num_queries(1):
        assert eventlog.emit_many(events, instances=False) is None
    stored = list(DomainEvent.objects.filter(code__startswith="test.").order_by("id"))
    assert [(e.code, e.payload, e.order_id, e.subject) for e in stored] == [
        ("test.one", {"a": 1}, 5, "order:5"),
        ("test.two", {}, 6, ""),
    ]
