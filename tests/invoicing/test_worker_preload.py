"""A worker of the documents queue loads the renderer before its pool forks; other workers do not."""

import types

import pytest

from invoicing import tasks
from invoicing.services import render


def _worker(*queues):
    from celery.app.amqp import Queues
    from kombu import Queue

    defined = Queues([Queue(name) for name in ("default", "tracking", "documents", "notifications")])
    defined.select(list(queues))
    return types.SimpleNamespace(app=types.SimpleNamespace(amqp=types.SimpleNamespace(queues=defined)))


@pytest.fixture
def calls(monkeypatch):
    seen = []
    monkeypatch.setattr(render, "preload", lambda: seen.append("preload"))
    monkeypatch.setattr(render, "preload_process", lambda: seen.append("process"))
    monkeypatch.setattr(tasks, "_renders_here", False)
    return seen


def test_a_documents_worker_preloads_then_each_pool_process_prepares_its_fonts(calls):
    tasks._preload_the_renderer(sender=_worker("default", "documents"))
    tasks._prepare_the_rendering_process()
    assert calls == ["preload", "process"]


def test_another_worker_loads_nothing_of_the_renderer(calls):
    tasks._preload_the_renderer(sender=_worker("default", "notifications"))
    tasks._prepare_the_rendering_process()
    assert calls == []


def test_preload_runs_without_a_database_and_the_pdf_still_renders_after_it():
    render.preload()  # no DB marker: it must not query (a worker's parent forks after it)
    render.preload_process()
    stylesheet, font_config = render._stylesheet()
    assert stylesheet is not None and font_config is not None
