"""A Celery worker for the fault-injection tests: ``python -m tests.faults.worker <name> [--slow-render]``.

With ``--slow-render``, rendering an invoice's PDF first writes the document's id to ``FAULTS_MARK`` and
then waits a minute, so the test can kill the worker in the middle of a render (SIGKILL)."""

import os
import sys
import time
from pathlib import Path

import django


def main() -> None:
    name, slow = sys.argv[1], "--slow-render" in sys.argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.faults.settings")
    django.setup()
    if slow:
        from invoicing.services import render

        real = render.render_pdf

        def render_pdf(document, xml):
            Path(os.environ["FAULTS_MARK"]).write_text(str(document.pk))
            time.sleep(60)
            return real(document, xml)

        render.render_pdf = render_pdf
    from oms.celery import app

    @app.task(name="faults.backend_pid")
    def backend_pid(path: str) -> None:
        """Append the PostgreSQL backend serving this task to ``path`` (a probe of connection reuse)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with open(path, "a") as out:
            out.write(f"{pid}\n")

    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "-Q",
            "default,documents,notifications",
            "-n",
            f"{name}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
    )


if __name__ == "__main__":
    main()
