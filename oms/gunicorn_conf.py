"""gunicorn's settings, the same for the Docker image, docker-compose and the benchmarks
(``gunicorn -c python:oms.gunicorn_conf oms.wsgi:application``). Each can be changed by the environment.

- ``WEB_CONCURRENCY`` worker processes (default 4) of the ``GUNICORN_WORKER_CLASS`` (default ``sync``;
  ``gthread`` with ``GUNICORN_THREADS`` threads each). Measured with bench/webhooks.py (bench/README.md,
  "Webhooks: the accept path"): on 2 busy cores gthread × 2 cost twice the web's CPU per webhook accepted
  (24.7 against 11.7 ms) and answered slower; sync stays the default until a quiet machine says otherwise.
- ``timeout`` 30 s: a request still running then is killed (the longest pages answer in a few seconds).
- Keep-alive 5 s: channels and load balancers reuse their connections.
- The access log on stdout when ``GUNICORN_ACCESS_LOG`` is true (compose and the image: the container's log).
- Once a worker has loaded the application, everything it holds (modules, settings, URL patterns, the
  models' metadata: ~200,000 objects) is moved out of the garbage collector's reach (``gc.freeze``), and the
  youngest generation is collected every ``GUNICORN_GC_GEN0`` allocations (default 50,000, Python's 700):
  a request allocates tens of thousands of short-lived objects, and each older-generation collection walked
  the whole application again (bench/README.md, intake 2026-12-05). Reference cycles are still collected.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "").lower() in ("1", "true", "yes") else None
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def post_worker_init(worker):
    """After the worker loaded the application, before its first request (see the docstring)."""
    gc.collect()
    gc.freeze()
    gen0 = int(os.environ.get("GUNICORN_GC_GEN0", "50000"))
    if gen0 > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0, gen1, gen2)
