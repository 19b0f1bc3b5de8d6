"""CPU per order of the intake, in one process (Django test client, production-like settings): what a
gunicorn worker spends on ``POST /api/v1/orders/`` and ``POST /api/v1/orders/batch/``, measured with
``time.process_time`` so that other processes of a loaded machine do not count.

    .venv/bin/python bench/intake_cpu.py --db oms_bench_intake_cpu --redis-db 5
    .venv/bin/python bench/intake_cpu.py --reuse --cprofile var/intake.prof   # the top functions too

The database is dropped, migrated and seeded as ``intake.py`` does (``--reuse``: seeded by an earlier run);
the same bodies as ``intake.py`` (1-3 lines, half with an Idempotency-Key), after a warm-up. Prints the CPU,
the statements and the CPU of this connection's PostgreSQL backend (``/proc/<pid>/schedstat``) per order of
the single and of the batch intake; with ``--cprofile`` the top functions by own time (process time).
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support as support  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="oms_bench_intake_cpu", help="database (dropped and re-created)")
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--redis-db", type=int, default=5, help="Redis db for cache and broker (-1: none)")
    parser.add_argument("--orders", type=int, default=300, help="single orders measured (default 300)")
    parser.add_argument("--batch", type=int, default=100, help="orders per batch call (default 100)")
    parser.add_argument("--calls", type=int, default=4, help="batch calls measured (default 4)")
    parser.add_argument(
        "--cprofile", metavar="FILE", help="also profile (process time) into FILE.single/.batch"
    )
    parser.add_argument("--top", type=int, default=30, help="functions printed per profile")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--gc",
        choices=["default", "gunicorn"],
        default="gunicorn",
        help="garbage collector as Python leaves it, or as oms/gunicorn_conf.py sets a worker (default)",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    extra = {"REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}"} if args.redis_db >= 0 else {}
    if not args.reuse or not support.database_exists(args.db):
        support.recreate_database(args.db)
        fresh = True
    else:
        fresh = False
    support.django_setup(args.db, **extra)
    import intake as bench  # noqa: E402  (bench/intake.py: its seed and bodies)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    if fresh:
        call_command("migrate", verbosity=0)
        raw_key, skus = bench.seed(scarce_units=10)
        Path(support.ROOT / "var").mkdir(exist_ok=True)
        (support.ROOT / "var" / f"{args.db}.key").write_text(raw_key)
    else:
        from inventory.models import Product

        raw_key = (support.ROOT / "var" / f"{args.db}.key").read_text()
        skus = [p.sku for p in Product.objects.filter(sku__startswith="BENCH-").order_by("sku")]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    prefix = f"cpu{int(time.time())}"
    payloads = bench.Payloads(skus=skus, scarce=False, rng=random.Random(args.seed), prefix=prefix)

    def single():
        body, headers = payloads.next()
        response = client.post(
            "/api/v1/orders/",
            data=body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
        assert response.status_code == 201, response.content[:500]

    def batch():
        orders = [json.loads(payloads.next()[0]) for _ in range(args.batch)]
        response = client.post(
            "/api/v1/orders/batch/", data={"orders": orders}, content_type="application/json"
        )
        assert response.status_code == 200, response.content[:500]
        assert all(r["status"] == 201 for r in response.json()["results"])

    queries = [0]

    def backend_cpu() -> float:
        """CPU seconds of this connection's PostgreSQL backend so far (the server is local)."""
        connection.ensure_connection()
        return support.backend_cpu_seconds(connection.connection.info.backend_pid)

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def measure(label, func, times, per):
        import cProfile

        prof = cProfile.Profile(time.process_time) if args.cprofile else None
        queries[0] = 0
        with connection.execute_wrapper(count):
            pg0 = backend_cpu()
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(times):
                if prof:
                    prof.enable()
                func()
                if prof:
                    prof.disable()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            pg = backend_cpu() - pg0
        n = times * per
        print(
            f"{label}: {n} orders, CPU {cpu / n * 1000:.2f} ms per order, wall {wall / n * 1000:.2f} ms, "
            f"{queries[0] / n:.2f} statements per order, PostgreSQL backend CPU {pg / n * 1000:.2f} ms "
            "per order"
        )
        if prof:
            import pstats

            out = f"{args.cprofile}.{label}"
            prof.dump_stats(out)
            stats = pstats.Stats(prof)
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top * 2)
        return cpu / n

    for _ in range(30):
        single()
    batch()
    import gc
    import os

    if args.gc == "gunicorn":  # what oms/gunicorn_conf.py's post_worker_init does
        from oms import gunicorn_conf

        gunicorn_conf.post_worker_init(None)
    print(f"gc: {args.gc}, thresholds {gc.get_threshold()}, frozen objects {gc.get_freeze_count()}")

    print(f"load average {os.getloadavg()[0]:.2f}")
    measure("single", single, args.orders, 1)
    measure("batch", batch, args.calls, args.batch)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
