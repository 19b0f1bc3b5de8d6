"""Sourcing benchmark: decisions per second and latency for 10-line orders over 20 locations.

    .venv/bin/python bench/sourcing.py [--decisions 300] [--locations 20] [--lines 10]

Uses a fresh PostgreSQL database (``oms_bench_sourcing``, ``--db``, on the ``--server``, default
postgres://postgres@127.0.0.1:5432) with the demo carrier network and picker shifts. Each decision is
the real ``orders.services.sourcing.decide`` (cost strategy: every single-location and split plan scored),
reads included. Target: p95 under 20 ms.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db", default="oms_bench_sourcing", help="database to (re)create and drop")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end (to profile it)")
    args = parser.parse_args()

    db = args.db
    subprocess.run(
        ["psql", f"{args.server}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=True
    )
    subprocess.run(["psql", f"{args.server}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
    os.environ["DATABASE_URL"] = f"{args.server}/{db}"
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "oms.settings.test"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)

    from inventory.models import Location, Product, StockLevel
    from oms.demo_network import seed_network, seed_shifts
    from orders.models import Channel, ChannelLocation
    from orders.services.sourcing import LineRequest, decide, destination_of

    rng = random.Random(7)
    channel = Channel.objects.create(code="bench", name="Bench")
    locations = []
    for i in range(args.locations):
        loc = Location.objects.create(
            code=f"loc{i:02d}",
            name=f"Location {i}",
            kind="warehouse" if i % 4 else "store",
            address_line1="1 rue",
            postcode="75001",
            city="X",
            latitude=Decimal(str(round(rng.uniform(43.0, 50.5), 4))),
            longitude=Decimal(str(round(rng.uniform(-1.0, 7.0), 4))),
            storage_cost_per_unit_day=Decimal(str(round(rng.uniform(0.005, 0.05), 4))),
            handling_cost_per_line=Decimal(str(round(rng.uniform(0.4, 2.5), 2))),
        )
        ChannelLocation.objects.create(channel=channel, location=loc, priority=i)
        locations.append(loc)
    products = [
        Product.objects.create(
            sku=f"SKU{i:03d}",
            name=f"P{i}",
            weight_g=rng.randint(100, 1500),
            price=Decimal("20"),
            vat_rate=Decimal("20.0"),
        )
        for i in range(60)
    ]
    StockLevel.objects.bulk_create(
        [
            StockLevel(product=p, location=loc, on_hand=rng.choice([0, 0, 3, 10, 50]), reserved=0)
            for p in products
            for loc in locations
        ]
    )
    seed_network()
    seed_shifts()
    postcodes = ["69003", "75011", "13006", "33000", "59000", "44000", "67000", "31000", "35000", "06000"]

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    timings, cpu, queries, parcels, candidates = [], [], [], [], []
    for n in range(args.decisions + 20):
        chosen = rng.sample(products, args.lines)
        lines = [LineRequest(i, p.pk, p.sku, rng.randint(1, 3), p.weight_g) for i, p in enumerate(chosen)]
        destination = destination_of(postcode=rng.choice(postcodes))
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                decision = decide(
                    channel=channel, lines=lines, mode="home", destination=destination, strategy="cost"
                )
            except Exception:  # noqa: BLE001 - an impossible basket still counts as a decision
                decision = None
            elapsed = time.perf_counter() - start
            elapsed_cpu = time.process_time() - start_cpu
        if n < 20:
            continue  # warm-up
        timings.append(elapsed * 1000)
        cpu.append(elapsed_cpu * 1000)
        queries.append(len(ctx.captured_queries))
        if decision:
            parcels.append(len(decision.plan.parcels))
            candidates.append(decision.compared)

    if os.environ.get("BENCH_PROFILE"):
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"sourcing: {args.decisions} decisions, {args.lines}-line orders over {args.locations} locations "
        "(cost strategy)"
    )
    print(f"  decisions/s (one process): {1000 / statistics.mean(timings):.0f}")
    print(f"  latency ms: p50 {p50:.1f}  p95 {p95:.1f}  max {timings[-1]:.1f}")
    cpu.sort()
    print(
        f"  CPU ms in this process (less inflated by a shared machine): p50 {statistics.median(cpu):.1f}  "
        f"p95 {cpu[int(len(cpu) * 0.95) - 1]:.1f}"
    )
    print(
        f"  queries per decision: {max(queries)}  candidates compared (avg): "
        f"{statistics.mean(candidates or [0]):.1f}  parcels (avg): {statistics.mean(parcels or [0]):.2f}  "
        f"feasible: {len(parcels)}/{args.decisions}"
    )
    print(f"  target p95 < 20 ms: {'MET' if p95 < 20 else 'NOT MET'}")
    connection.close()
    if not args.keep:
        subprocess.run(
            ["psql", f"{args.server}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
            check=True,
        )


if __name__ == "__main__":
    main()
