"""Django's PostgreSQL backend with a health check that costs no round trip when nothing is wrong.

``CONN_HEALTH_CHECKS`` makes Django test a kept connection before the first query of each request and each
Celery task with ``SELECT 1``: a round trip and a wake-up of the backend every time, ~17 per order over the
journey (bench/README.md) and one of intake's ~10 statements. A connection cut while idle (a restart,
``pg_terminate_backend``, an idle timeout, PgBouncer going away) is a socket the server has written its
FATAL message to and closed: it is readable. So the check first asks the socket, without waiting, whether
anything is pending; an idle connection has nothing to read, and is used as it is. Anything pending (the
server's goodbye, an EOF) falls back to Django's ``SELECT 1``, which fails and reconnects as before. A peer
gone silent (a network cut without a reset) is not seen by either check before TCP gives up: no change.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        """Nothing to read on the connection's socket (no error, no EOF from the server) and no transaction
        open on it."""
        try:
            if self.connection.closed or self.connection.info.transaction_status != 0:  # 0: idle
                return False
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except Exception:  # noqa: BLE001 - anything odd: Django's own check decides
            return False
        return not readable
