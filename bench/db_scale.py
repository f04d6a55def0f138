"""Database-side scale: a 1,000,000-device broadcast (dummy backend) and clearpushdevices on PostgreSQL.

    python -m bench.db_scale --devices 1000000

Creates (and drops) its own database BENCH_DB (default bench_push). Reports peak RSS of the process
that runs the broadcast, wall time, CPU per 1,000 deliveries, and clearpushdevices' time over the same
devices made stale. The broadcast runs inline (eager, one process): the same code a Celery worker runs
per chunk, so its RSS is the per-worker figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def psql(sql: str, db: str = "postgres") -> None:
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
    )


def setup_db(db: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], check=True, env=env(db))


def env(db: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_DB": db}


def create_devices(db: str, n: int) -> float:
    start = time.perf_counter()
    psql(
        "INSERT INTO django_push_device (public_id, platform, application, address, address_hash, p256dh, "
        "auth, "
        "environment, name, user_agent, locale, time_zone, active, created_at, updated_at, registered_at, "
        "failure_count, last_failure_reason, deactivation_reason, kind, activity_type, activity_id, "
        "push_manager) "
        "SELECT md5(i::text || 'u')::uuid, 'fcm', 'default', 'tok-' || i, "
        "encode(sha256(('tok-' || i)::bytea), 'hex'),"
        " '', '', 'production', '', '', '', '', true, now() - interval '400 days', now(), now(), 0, '', '', 'device', '', '', '' "
        f"FROM generate_series(1, {n}) AS i",
        db,
    )
    psql("VACUUM ANALYZE django_push_device", db)
    return time.perf_counter() - start


def broadcast_child() -> None:
    """Runs in a fresh process so its peak RSS is the broadcast's own."""
    import django

    django.setup()
    from django_push import dispatch
    from django_push.models import Notification

    n = dispatch.create(audience={"all": True}, title="scale", body="one million")
    cpu0, t0 = time.process_time(), time.perf_counter()
    dispatch.plan(n.pk)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    n = Notification.objects.get(pk=n.pk)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "targeted": n.targeted,
                "sent": n.sent,
                "status": n.status,
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


def clear_child() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("clearpushdevices", "--days", "30")
    print(json.dumps({"clearpushdevices_s": round(time.perf_counter() - t0, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--db", default=os.environ.get("BENCH_DB", "bench_push"))
    parser.add_argument("--child", choices=["broadcast", "clear"])
    parser.add_argument("--skip-broadcast", action="store_true", help="only time clearpushdevices")
    args = parser.parse_args()
    if args.child == "broadcast":
        return broadcast_child()
    if args.child == "clear":
        return clear_child()
    setup_db(args.db)
    created = create_devices(args.db, args.devices)
    print(f"created {args.devices} devices in {created:.1f}s", flush=True)
    result: dict = {}
    if not args.skip_broadcast:
        out = (
            subprocess.run(
                [sys.executable, "-m", "bench.db_scale", "--child", "broadcast"],
                env=env(args.db),
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        result["cpu_ms_per_1000"] = round(1000 * result["cpu_s"] / max(1, result["sent"]) * 1000, 1)
    # Make every device stale (no success for 400 days) and time the cleanup.
    psql("UPDATE django_push_device SET last_success_at = now() - interval '400 days'", args.db)
    out = (
        subprocess.run(
            [sys.executable, "-m", "bench.db_scale", "--child", "clear"],
            env=env(args.db),
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    result.update(json.loads(out))
    result["devices"] = args.devices
    print(json.dumps(result, indent=2))
    psql(f"DROP DATABASE IF EXISTS {args.db}")


if __name__ == "__main__":
    main()
