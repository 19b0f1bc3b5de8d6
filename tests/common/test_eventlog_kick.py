"""After a commit, the consumers of what was written are queued with one message per queue (naming its
consumers), not one per consumer, and only for the consumers whose kick flag was not set yet (one round
trip with Redis): an order taken costs the request at most one publish per queue, usually none."""

import pytest
from django.core.cache import cache

from common import cache as common_cache
from common import eventlog, jobs
from common.tasks import consume_events


@pytest.fixture
def sent(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete_many(eventlog.kick_keys(eventlog.consumers()))
    published = []
    monkeypatch.setattr(
        jobs, "enqueue", lambda task, *args, **options: published.append((task, args, options)) or True
    )
    yield published
    cache.delete_many(eventlog.kick_keys(eventlog.consumers()))


def _named(sent) -> list[str]:
    return [n for _task, args, _options in sent for n in ([args[0]] if isinstance(args[0], str) else args[0])]


def test_one_message_per_queue_names_every_consumer_of_the_codes_written(sent):
    # given
    eventlog._local.codes = {"order.created"}
    # when
    eventlog.kick()
    # then
    interested = {c.name for c in eventlog.consumers().values() if "order.created" in c.codes}
    assert len(interested) > 1
    queues = {c.queue for c in eventlog.consumers().values() if c.name in interested}
    assert len(sent) == len(queues)
    named = set()
    for task, args, options in sent:
        assert task is consume_events
        named.update([args[0]] if isinstance(args[0], str) else args[0])
        assert {
            eventlog.consumers()[n].queue for n in ([args[0]] if isinstance(args[0], str) else args[0])
        } == {options["queue"]}
    assert named == interested


def test_no_message_while_the_consumers_flags_are_set_and_a_new_one_once_the_task_cleared_them(
    sent, monkeypatch
):
    # given: a first commit published (the flags are set)
    monkeypatch.setattr(eventlog, "consume_group", lambda names, limit=200: (0, False))
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    first = _named(sent)
    assert first
    # when: more commits before a worker ran the message
    sent.clear()
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    # then: nothing more is published
    assert sent == []
    # when: the task runs (it clears its consumers' flags before reading), then another commit
    consume_events(first)
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    # then: published again, for the same consumers
    assert sorted(_named(sent)) == sorted(first)


def test_a_consumer_not_flagged_yet_still_gets_its_message(sent):
    # given: the flags of order.created's consumers are set
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    created = set(_named(sent))
    sent.clear()
    # when: a commit concerns a consumer that order.created does not
    other = next(c for c in eventlog.consumers().values() if c.name not in created)
    eventlog._local.codes = {next(iter(other.codes))}
    eventlog.kick()
    # then: that consumer is published (and none whose flag is set)
    assert other.name in _named(sent)
    assert not set(_named(sent)) & created


def test_when_redis_cannot_answer_every_consumer_is_published(sent, monkeypatch):
    monkeypatch.setattr(common_cache, "cache_add_flags", lambda keys, timeout: None)
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    interested = sorted(c.name for c in eventlog.consumers().values() if "order.created" in c.codes)
    assert sorted(_named(sent)) == sorted(interested * 2)  # each commit publishes for all: none is lost


def test_a_publish_that_failed_leaves_no_flag_behind(settings, monkeypatch):
    # given: the broker is down
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete_many(eventlog.kick_keys(eventlog.consumers()))
    monkeypatch.setattr(jobs, "enqueue", lambda task, *args, **options: False)
    # when
    eventlog._local.codes = {"order.created"}
    eventlog.kick()
    # then: the next commit tries again (the sweep catches up meanwhile)
    interested = [c.name for c in eventlog.consumers().values() if "order.created" in c.codes]
    assert cache.get_many(eventlog.kick_keys(interested)) == {}


def test_the_task_runs_the_named_consumers_together_page_after_page(monkeypatch):
    ran = []
    pages = iter([(200, True), (3, False), (0, False)])
    monkeypatch.setattr(
        eventlog, "consume_group", lambda names, limit=200: ran.append(list(names)) or next(pages)
    )
    assert consume_events(["a", "b"]) == 203  # a full page: the next one is read at once
    assert consume_events("c") == 0
    assert ran == [["a", "b"], ["a", "b"], ["c"]]


def test_a_burst_longer_than_twenty_pages_queues_its_own_follow_up(sent, monkeypatch):
    # given: a consumer's window holds more than twenty full pages (a tracking cycle's status changes)
    name = next(c.name for c in eventlog.consumers().values() if "shipment.status_changed" in c.codes)
    ran = []
    monkeypatch.setattr(
        eventlog, "consume_group", lambda names, limit=200: ran.append(list(names)) or (limit, True)
    )
    # when
    assert consume_events(name, 50) == 20 * 50
    # then: it stopped after twenty pages and queued the rest at once, on its own queue, with its page size
    assert len(ran) == 20
    assert sent == [(consume_events, (name, 50), {"queue": eventlog.consumers()[name].queue})]
    # a page that was not full queues nothing
    sent.clear()
    monkeypatch.setattr(eventlog, "consume_group", lambda names, limit=200: (3, False))
    assert consume_events(name) == 3
    assert sent == []
