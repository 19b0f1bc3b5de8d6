"""After a commit, the consumers of what was written are queued with one message per queue (naming its
consumers), not one per consumer: an order taken costs the request one publish."""

from common import eventlog, jobs
from common.tasks import consume_events


def test_one_message_per_queue_names_every_consumer_of_the_codes_written(settings, monkeypatch):
    # given
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []
    monkeypatch.setattr(jobs, "enqueue", lambda task, *args, **options: sent.append((task, args, options)))
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


def test_the_task_runs_the_named_consumers_together_page_after_page(monkeypatch):
    ran = []
    pages = iter([(200, True), (3, False), (0, False)])
    monkeypatch.setattr(
        eventlog, "consume_group", lambda names, limit=200: ran.append(list(names)) or next(pages)
    )
    assert consume_events(["a", "b"]) == 203  # a full page: the next one is read at once
    assert consume_events("c") == 0
    assert ran == [["a", "b"], ["a", "b"], ["c"]]
