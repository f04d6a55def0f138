"""The admin dashboard's aggregate queries at 1,000,000 deliveries on PostgreSQL, with and without
migration 0004's indexes.

    python -m bench.dashboard_scale                 # database "test" on 127.0.0.1:5432, schema dp_dashboard
    python -m bench.dashboard_scale --deliveries 200000 --keep

Works in its own schema (BENCH_SCHEMA, default dp_dashboard) of an existing database (BENCH_DB,
default "test"), created and dropped by the script. Data: 10,000 devices over three platforms, one
notification per 1,000 deliveries, created over the last 40 days (so the 30-day window holds 75 %),
92 % sent, 3 % failed, 3 % invalid tokens, 2 % skipped; 20 % of sent ones opened. Each query of
django_push.models.stats runs 5 times after a warm-up; the median wall time and the plan's scan
nodes are reported, first with the indexes, then with them dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta

INDEXES = {
    "django_push_deliv_day": 'ON django_push_delivery ("created_at", "platform", "status")',
    "django_push_deliv_opened": 'ON django_push_delivery ("opened_at", "platform") WHERE opened_at IS NOT NULL',
    "django_push_deliv_errors": 'ON django_push_delivery ("created_at", "error_code") WHERE NOT (error_code = \'\')',
}


def psql(sql: str, db: str, schema: str = "") -> None:
    env = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"} if schema else None
    subprocess.run(
        [
            "psql",
            "-h",
            os.environ.get("PGHOST", "127.0.0.1"),
            "-U",
            os.environ.get("PGUSER", "postgres"),
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ],
        check=True,
        env=env,
    )


def populate(db: str, schema: str, n: int) -> float:
    t0 = time.perf_counter()
    psql(
        "INSERT INTO django_push_device (public_id, platform, application, address, address_hash, p256dh, auth, "
        "environment, name, user_agent, locale, time_zone, active, created_at, updated_at, registered_at, "
        "failure_count, last_failure_reason, deactivation_reason, kind, activity_type, activity_id, "
        "push_manager) "
        "SELECT md5(i::text)::uuid, (ARRAY['apns','fcm','webpush'])[1 + i % 3], 'default', 'tok-' || i, "
        "encode(sha256(('tok-' || i)::bytea), 'hex'), '', '', 'production', '', '', '', '', true, now(), now(), "
        "now(), 0, '', '', 'device', '', '', '' FROM generate_series(1, 10000) AS i",
        db,
        schema,
    )
    notifications = (n + 999) // 1000
    psql(
        "INSERT INTO django_push_notification (public_id, title, body, data, overrides, options, priority, "
        "collapse_key, push_type, notification_type, delivery_policy, audience, created_at, status, targeted, "
        "sent, failed, invalid, skipped, unknown, displayed, opened, clicked) "
        "SELECT md5('n' || i)::uuid, 'n' || i, '', '{}', '{}', '{}', 'normal', '', 'alert', '', 'at_least_once', "
        f"'{{}}', now(), 'done', 1000, 0, 0, 0, 0, 0, 0, 0, 0 FROM generate_series(1, {notifications}) AS i",
        db,
        schema,
    )
    # Delivery i: notification 1 + i / 1000, device (i % 1000) + 1 + 1000 * (notification % 10): unique
    # per (notification, device). Created over the last 40 days; status by i % 100.
    psql(
        "INSERT INTO django_push_delivery (notification_id, device_id, platform, status, attempts, message_id, "
        "error_code, reason, ambiguous_retry, claim, created_at, updated_at, sent_at, opened_at) "
        "SELECT 1 + i / 1000, d, (ARRAY['apns','fcm','webpush'])[1 + d % 3], "
        "CASE WHEN i % 100 < 92 THEN 'sent' WHEN i % 100 < 95 THEN 'failed' WHEN i % 100 < 98 THEN "
        "'invalid_token' ELSE 'skipped' END, 1, '', "
        "CASE WHEN i % 100 BETWEEN 92 AND 94 THEN (ARRAY['Unavailable','InternalServerError','TooManyRequests'])"
        "[1 + i % 3] WHEN i % 100 BETWEEN 95 AND 97 THEN (ARRAY['BadDeviceToken','Unregistered','410'])[1 + i % 3] "
        "ELSE '' END, CASE WHEN i % 100 BETWEEN 92 AND 97 THEN 'the service said no' ELSE '' END, false, '', c, c, "
        "c, CASE WHEN i % 100 < 92 AND i % 5 = 0 THEN c + interval '5 minutes' END "
        f"FROM (SELECT i, (i % 1000) + 1 + 1000 * ((1 + i / 1000) % 10) AS d, "
        f"now() - (i::float / {n}) * interval '40 days' AS c FROM generate_series(0, {n - 1}) AS i) AS s",
        db,
        schema,
    )
    psql("VACUUM ANALYZE django_push_delivery", db, schema)
    return time.perf_counter() - t0


def measure() -> dict[str, object]:
    """Runs in a child process with Django set up on the bench schema."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from django_push.models import stats

    since = timezone.now() - timedelta(days=29)
    today = timezone.localdate()
    first = today - timedelta(days=29)
    queries = {
        "daily_outcomes": lambda: stats.daily_outcomes(since),
        "daily_opens": lambda: stats.daily_opens(since),
        "top_failures": lambda: stats.top_failures(since),
    }
    out: dict[str, object] = {}
    # What the dashboard runs: settled days from the rollup (cold: computed; warm: cached), the last
    # two days live. The cache is the local-memory one of bench.settings (per process).
    from django.core.cache import cache

    for name, query in (("daily_outcomes", stats.daily_outcomes), ("daily_opens", stats.daily_opens)):
        cache.clear()
        t0 = time.perf_counter()
        stats.settled(query, first, today)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows, cached = stats.settled(query, first, today)
            warm.append(time.perf_counter() - t0)
        assert cached
        out[f"dashboard_{name}"] = {
            "rollup_cold_ms": round(1000 * cold, 1),
            "rollup_warm_median_ms": round(1000 * statistics.median(warm), 1),
            "rows": len(rows),
        }
    for name, run in queries.items():
        run()  # warm-up
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            rows = run()
            times.append(time.perf_counter() - t0)
        out[name] = {"median_ms": round(1000 * statistics.median(times), 1), "rows": len(rows)}
    # The plans' scan nodes (first query of each function).
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    from django_push.models import Delivery

    plans = {
        "daily_outcomes": Delivery.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "platform", "status")
        .annotate(n=Count("*"))
        .order_by(),
        "daily_opens": Delivery.objects.filter(opened_at__gte=since)
        .annotate(day=TruncDate("opened_at"))
        .values("day", "platform")
        .annotate(n=Count("*"))
        .order_by(),
        "top_failures": Delivery.objects.filter(created_at__gte=since)
        .exclude(error_code="")
        .values("error_code")
        .annotate(n=Count("*"))
        .order_by("-n"),
    }
    for name, qs in plans.items():
        plan = qs.explain()
        nodes = sorted(
            {line.strip().split("  (")[0].lstrip("-> ") for line in plan.splitlines() if "Scan" in line}
        )
        out[name]["plan"] = nodes  # type: ignore[index]
    connection.close()
    return out


def child(schema: str, db: str) -> dict[str, object]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_DB": db, "BENCH_SCHEMA": schema}
    result = subprocess.run(
        [sys.executable, "-m", "bench.dashboard_scale", "--child"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.environ.get("BENCH_DB", "test"))
    parser.add_argument("--schema", default=os.environ.get("BENCH_SCHEMA", "dp_dashboard"))
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    psql(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE; CREATE SCHEMA {args.schema}", args.db)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DB": args.db,
        "BENCH_SCHEMA": args.schema,
    }
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], check=True, env=env)
    try:
        seconds = populate(args.db, args.schema, args.deliveries)
        print(
            f"{args.deliveries} deliveries written in {seconds:.1f}s ({datetime.now():%H:%M:%S})", flush=True
        )
        with_indexes = child(args.schema, args.db)
        psql("; ".join(f"DROP INDEX {name}" for name in INDEXES), args.db, args.schema)
        psql("VACUUM ANALYZE django_push_delivery", args.db, args.schema)
        without = child(args.schema, args.db)
        psql("; ".join(f"CREATE INDEX {name} {spec}" for name, spec in INDEXES.items()), args.db, args.schema)
        print(
            json.dumps(
                {"deliveries": args.deliveries, "with_0004_indexes": with_indexes, "without_them": without},
                indent=2,
            )
        )
    finally:
        if not args.keep:
            psql(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE", args.db)


if __name__ == "__main__":
    main()
