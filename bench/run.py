"""Throughput benchmark: broadcasts through the local fake push service, against a reference client.

    python -m bench.run                       # 10,000 devices per service, 0 ms and 50 ms latency
    python -m bench.run --devices 2000 --latencies 0.05 --services apns

For each latency it starts the fake service in its own process, runs the minimal asyncio + h2
reference client (bench/reference_client.py), then a broadcast per service through django_push in one
worker process (and in two), on PostgreSQL with every Delivery written. Reports delivered/s, CPU
seconds per 1,000 sends, peak RSS, and our rate as a ratio of the reference's in the same run —
these machines are shared and noisy, so only same-run ratios mean much. Writes
bench/results/latest.json. Needs PostgreSQL on 127.0.0.1 (trust auth).

With ``--dpn``, after our runs of each service it also sends the same broadcast through
django-push-notifications 3.3.0 from PyPI (bench/dpn_compare.py, in its own virtualenv
bench/.venv-dpn, created when missing) against the same fake service, with DPN's default settings
apart from what it needs to work at all, and reports our rate as a ratio of DPN's. DPN's Web Push
sends one push at a time over a new connection, so it is capped at ``--dpn-webpush-cap`` devices.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = os.environ.get("BENCH_DB", "bench_push")
DPN_VENV = ROOT / "bench" / ".venv-dpn"
DPN_PYTHON = DPN_VENV / "bin" / "python"
DPN_REQUIREMENTS = ["django-push-notifications[APNS,WP,FCM]==3.3.0", "aioapns", "django>=4.2,<6"]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def credentials(workdir: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(key: object) -> str:
        return key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    browser = ec.generate_private_key(ec.SECP256R1())
    return {
        "apns_key": pem(ec.generate_private_key(ec.SECP256R1())),
        "fcm_key": pem(rsa.generate_private_key(65537, 2048)),
        "vapid": b64(
            ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
        ),
        "p256dh": b64(
            browser.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ),
        "auth": b64(os.urandom(16)),
    }


def push_settings(url: str, ca_file: str, creds: dict[str, str]) -> dict:
    common = {"production_url": url, "sandbox_url": url, "verify": ca_file}
    return {
        "BACKENDS": {
            "apns": {
                "BACKEND": "django_push.backends.apns.APNsBackend",
                "OPTIONS": {
                    "team_id": "TEAM123456",
                    "key_id": "KEY1234567",
                    "key": creds["apns_key"],
                    "topic": "com.example.app",
                    **common,
                },
            },
            "fcm": {
                "BACKEND": "django_push.backends.fcm.FCMBackend",
                "OPTIONS": {
                    "project_id": "bench",
                    "endpoint": url + "/v1/projects/{project_id}/messages:send",
                    "token_uri": url + "/token",
                    "verify": ca_file,
                    "credentials": {
                        "type": "service_account",
                        "project_id": "bench",
                        "private_key_id": "k1",
                        "private_key": creds["fcm_key"],
                        "client_email": "bench@bench.iam.gserviceaccount.com",
                        "token_uri": "https://oauth2.googleapis.com/token",
                    },
                },
            },
            "webpush": {
                "BACKEND": "django_push.backends.webpush.WebPushBackend",
                "OPTIONS": {
                    "vapid_private_key": creds["vapid"],
                    "vapid_subject": "mailto:bench@example.com",
                    "allowed_hosts": [url.split("//", 1)[1]],
                    "verify": ca_file,
                },
            },
        },
        "CHUNK_SIZE": 500,
        "USE_CELERY": False,
    }


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            os.environ.get("PGUSER", "postgres"),
            "-d",
            db,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
    )


def child_env(settings: dict) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DB": DB,
        "BENCH_PUSH_JSON": json.dumps(settings),
        "PYTHONPATH": str(ROOT),
    }


def reset_db(settings: dict) -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0"], check=True, env=child_env(settings), cwd=ROOT
    )


def create_devices(service: str, n: int, url: str, creds: dict[str, str]) -> None:
    address = {
        "apns": "lpad(to_hex(i), 64, '0')",
        "fcm": "'fcm-token-' || i",
        "webpush": f"'{url}/wp/s' || i",
    }[service]
    p256dh, auth = (creds["p256dh"], creds["auth"]) if service == "webpush" else ("", "")
    psql(
        "TRUNCATE django_push_delivery, django_push_notification, django_push_device CASCADE; "
        "INSERT INTO django_push_device (public_id, platform, application, address, address_hash, p256dh, auth,"
        " environment, name, user_agent, locale, time_zone, active, created_at, updated_at, registered_at,"
        " failure_count, last_failure_reason, deactivation_reason, kind, activity_type, activity_id, "
        "push_manager) "
        f"SELECT md5(i::text)::uuid, '{service}', 'default', {address}, encode(sha256(({address})::bytea), 'hex'),"
        f" '{p256dh}', '{auth}', 'production', '', '', '', '', true, now(), now(), now(), 0, '', '', 'device', '', '', '' "
        f"FROM generate_series(1, {n}) AS i",
        DB,
    )
    psql("VACUUM ANALYZE django_push_device", DB)


def child_send(chunk_file: str | None) -> None:
    """One worker process: send a whole broadcast (plan inline), or the chunks listed in a file."""
    import django

    django.setup()
    from django_push import dispatch
    from django_push.models import Notification

    if chunk_file:
        spec = json.loads(Path(chunk_file).read_text())
        notification_id, chunks = spec["notification"], spec["chunks"]
        start = time.time()  # wall-clock start, comparable across processes
        cpu = time.process_time()
        dispatch.process_chunks(notification_id, chunks)  # pipelined, as the inline planner does
        cpu = time.process_time() - cpu
        end = time.time()
    else:
        n = dispatch.create(audience={"all": True}, title="Benchmark", body="Hello from django_push")
        notification_id = n.pk
        start, cpu = time.time(), time.process_time()
        dispatch.plan(n.pk)
        cpu, end = time.process_time() - cpu, time.time()
    n = Notification.objects.get(pk=notification_id)
    print(
        json.dumps(
            {
                "start": start,
                "end": end,
                "cpu_s": cpu,
                "sent": n.sent,
                "failed": n.failed,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def send(settings: dict, workers: int) -> dict:
    env = child_env(settings)
    if workers == 1:
        # BENCH_PYSPY=out.txt: record the worker with py-spy (collapsed stacks, idle samples too).
        spy = os.environ.get("BENCH_PYSPY")
        prefix = (
            [
                "py-spy",
                "record",
                os.environ.get("BENCH_PYSPY_MODE", "--idle"),
                "--threads",
                "-f",
                "raw",
                "-r",
                "200",
                "-o",
                spy,
                "--",
            ]
            if spy
            else []
        )
        out = (
            subprocess.run(
                [*prefix, sys.executable, "-m", "bench.run", "--child-send"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()
        )
        results = [json.loads(next(line for line in reversed(out) if line.startswith("{")))]
        sent = results[0]["sent"]
    else:
        # Plan in this process (as the planner task would), then N processes share the chunks, as N
        # Celery worker processes would.
        plan = (
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    (
                        "import django, json; django.setup()\n"
                        "from django_push import dispatch\nfrom django_push.dispatch import audience\n"
                        "n = dispatch.create(audience={'all': True}, title='Benchmark', body='Hello from django_push')\n"
                        "chunks = list(audience.id_chunks(n.audience, 500))\n"
                        "from django_push.models import Notification\n"
                        "from django.utils import timezone\n"
                        "Notification.objects.filter(pk=n.pk).update(status='sending', targeted=sum(map(len, chunks)),"
                        " planned_at=timezone.now())\n"
                        "print(json.dumps({'notification': n.pk, 'chunks': chunks}))"
                    ),
                ],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        spec = json.loads(plan)
        files, procs = [], []
        for w in range(workers):
            f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
            json.dump({"notification": spec["notification"], "chunks": spec["chunks"][w::workers]}, f)
            f.close()
            files.append(f.name)
        for name in files:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.run", "--child-send", "--chunks", name],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        sent = max(r["sent"] for r in results)  # the process that finished last saw every chunk
        for name in files:
            os.unlink(name)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    return {
        "workers": workers,
        "sent": sent,
        "failed": results[-1]["failed"],
        "wall_s": round(wall, 2),
        "per_second": round(sent / wall, 1),
        "cpu_s_per_1000": round(1000 * cpu / max(1, sent), 3),
        "peak_rss_mb": round(max(r["rss_mb"] for r in results), 1),
    }


def fake_stats(url: str, ca_file: str, reset: bool = False) -> dict:
    import ssl

    ctx = ssl.create_default_context(cafile=ca_file)
    request = urllib.request.Request(
        url + ("/_reset" if reset else "/_stats"), method="POST" if reset else "GET"
    )
    with urllib.request.urlopen(request, context=ctx) as response:
        return json.loads(response.read())


def ensure_dpn_venv() -> None:
    """Create bench/.venv-dpn with django-push-notifications 3.3.0 from PyPI when it is missing."""
    if DPN_PYTHON.exists():
        return
    print(f"creating {DPN_VENV.relative_to(ROOT)} (django-push-notifications 3.3.0 from PyPI)…", flush=True)
    subprocess.run(["python3", "-m", "venv", str(DPN_VENV)], check=True)
    subprocess.run([str(DPN_VENV / "bin" / "pip"), "install", "-q", *DPN_REQUIREMENTS], check=True)


def run_dpn(service: str, devices: int, url: str, ca_file: str) -> dict:
    """One broadcast through django-push-notifications (bench/dpn_compare.py), in its virtualenv."""
    command = [
        str(DPN_PYTHON),
        str(ROOT / "bench" / "dpn_compare.py"),
        "--service",
        service,
        "--devices",
        str(devices),
        "--url",
        url,
        "--ca-file",
        ca_file,
    ]
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"service": service, "devices": devices, "failed": "timed out after 1800 s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"service": service, "devices": devices, "failed": f"exit {proc.returncode}: {tail[:200]}"}
    return json.loads(lines[-1])


def dpn_line(dpn: dict, ours: dict | None, latency: float, cap_note: str) -> str:
    if "failed" in dpn:
        return f"  dpn-{dpn['service']:8}: failed ({dpn['failed']})"
    lost_pct = 100 * dpn["lost"] / max(1, dpn["devices"])
    line = (
        f"  dpn-{dpn['service']:8}: {dpn['per_second']}/s, lost {lost_pct:.0f}% "
        f"({dpn['lost']}/{dpn['devices']}{cap_note}), {dpn['cpu_s_per_1000']} s CPU/1000"
    )
    if ours is not None:
        ratio = dpn.get("ours_to_dpn")
        line += f"; ours (workers={ours['workers']}) {ours['per_second']}/s = " + (
            f"{ratio}× DPN" if ratio is not None else "∞× DPN"
        )
    if dpn["errors"]:
        top, count = next(iter(dpn["errors"].items()))
        line += f"; errors: {count}× {top[:80]}"
    if dpn["service"] in ("fcm", "webpush") and latency > 0 and dpn["http11_answer_ms"] < latency * 500:
        line += (
            f" [NB: the fake answered DPN's HTTP/1.1 in {dpn['http11_answer_ms']} ms, "
            f"not {latency * 1000:.0f} ms]"
        )
    return line


def dpn_table(report: dict) -> None:
    print("\nours vs django-push-notifications 3.3.0 (delivered/s, as counted by the fake service)")
    head = ("latency", "service", "ours w=1", "ours w=2", "DPN", "DPN lost", "ours/DPN")
    print(f"{head[0]:>8} {head[1]:8} {head[2]:>9} {head[3]:>9} {head[4]:>8} {head[5]:>9} {head[6]:>9}")
    for dpn in report["dpn_runs"]:
        ours = {
            r["workers"]: r["per_second"]
            for r in report["runs"]
            if r["service"] == dpn["service"] and r["latency_ms"] == dpn["latency_ms"]
        }
        if "failed" in dpn:
            rate, lost, ratio = "failed", "", ""
        else:
            rate = f"{dpn['per_second']}"
            lost = f"{100 * dpn['lost'] / max(1, dpn['devices']):.0f}%"
            ratio = f"{dpn['ours_to_dpn']}×" if dpn.get("ours_to_dpn") is not None else "∞"
        name = dpn["service"] + ("*" if dpn.get("capped_devices") else "")
        print(
            f"{dpn['latency_ms']:>6.0f}ms {name:8} {ours.get(1, '-')!s:>9} {ours.get(2, '-')!s:>9} "
            f"{rate:>8} {lost:>9} {ratio:>9}"
        )

    capped = {d["capped_devices"] for d in report["dpn_runs"] if d.get("capped_devices")}
    if capped:
        sizes = ", ".join(f"{c:,}" for c in sorted(capped))
        print(f"* DPN run with {sizes} devices (capped), ours with {report['devices']:,}")


def print_medians(report: dict) -> None:
    """The median of each configuration's ratios to the reference client run just before it."""
    groups: dict[tuple, list[dict]] = {}
    for r in report["runs"]:
        groups.setdefault((r["latency_ms"], r["service"], r["workers"]), []).append(r)
    print("medians over the repeats (ratio to the reference client run just before):")
    for (latency, service, workers), runs in groups.items():
        ratios = sorted(r["ratio_to_reference"] for r in runs)
        rates = sorted(r["per_second"] for r in runs)
        refs = sorted(r["reference_per_second"] for r in runs)
        cpu = sorted(r["cpu_s_per_1000"] for r in runs)
        print(
            f"  {latency:.0f} ms {service:8} workers={workers}: ratio {statistics.median(ratios):.2f} "
            f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}), {statistics.median(rates):.0f}/s against "
            f"{statistics.median(refs):.0f}/s, {statistics.median(cpu):.3f} s CPU/1000, runs {len(runs)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--latencies", default="0,0.05")
    parser.add_argument("--services", default="apns,fcm,webpush")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--port", type=int, default=18443)
    parser.add_argument(
        "--dpn", action="store_true", help="also run django-push-notifications 3.3.0 (bench/dpn_compare.py)"
    )
    parser.add_argument(
        "--dpn-webpush-cap",
        type=int,
        default=1000,
        help="most devices DPN's Web Push is run with (one push at a time, a new TLS connection each)",
    )
    parser.add_argument(
        "--no-engagement",
        action="store_true",
        help="ENGAGEMENT_TRACKING off: no signed delivery reference per push (its cost, measured)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="alternate the reference client and each run this many times; report the median ratio "
        "(on a shared machine single runs vary by a factor of two)",
    )
    parser.add_argument("--child-send", action="store_true")
    parser.add_argument("--chunks")
    args = parser.parse_args()
    if args.child_send:
        return child_send(args.chunks)

    workdir = tempfile.mkdtemp(prefix="bench-")
    creds = credentials(workdir)
    report: dict = {"devices": args.devices, "runs": []}
    if args.dpn:
        ensure_dpn_venv()
        report["dpn_runs"] = []
    for latency in [float(x) for x in args.latencies.split(",")]:
        ca_file = os.path.join(workdir, "fakepush.pem")
        url = f"https://127.0.0.1:{args.port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.fakepush",
                "--port",
                str(args.port),
                "--latency",
                str(latency),
                "--cert-out",
                ca_file,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        server.stdout.readline()  # "fakepush listening on …"
        try:
            settings = push_settings(url, ca_file, creds)
            if args.no_engagement:
                settings["ENGAGEMENT_TRACKING"] = False
            reset_db(settings)
            for _rep in range(args.repeat):
                ref = json.loads(
                    subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "bench.reference_client",
                            "--url",
                            url,
                            "--ca-file",
                            ca_file,
                            "-n",
                            str(args.devices),
                        ],
                        cwd=ROOT,
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout.strip()
                )
                print(
                    f"latency {latency * 1000:.0f} ms  reference client: {ref['per_second']}/s, "
                    f"{ref['cpu_ms_per_request']} ms CPU/request",
                    flush=True,
                )
                for service in args.services.split(","):
                    for workers in [int(w) for w in args.workers.split(",")]:
                        create_devices(service, args.devices, url, creds)
                        fake_stats(url, ca_file, reset=True)
                        result = send(settings, workers)
                        stats = fake_stats(url, ca_file)
                        result.update(
                            service=service,
                            latency_ms=latency * 1000,
                            ratio_to_reference=round(result["per_second"] / ref["per_second"], 2),
                            duplicates=stats["duplicates"],
                            accepted=stats["accepted_total"],
                            reference_per_second=ref["per_second"],
                        )
                        report["runs"].append(result)
                        print(
                            f"  {service:8} workers={workers}: {result['per_second']}/s "
                            f"({result['ratio_to_reference']}× reference), {result['cpu_s_per_1000']} s CPU/1000, "
                            f"RSS {result['peak_rss_mb']} MB, sent {result['sent']}/{args.devices}, "
                            f"duplicates {result['duplicates']}",
                            flush=True,
                        )
                    if args.dpn:
                        n = args.devices
                        if service == "webpush" and n > args.dpn_webpush_cap:
                            n = args.dpn_webpush_cap
                        cap_note = f", capped at {n:,} devices" if n < args.devices else ""
                        fake_stats(url, ca_file, reset=True)
                        dpn = run_dpn(service, n, url, ca_file)
                        stats = fake_stats(url, ca_file)
                        ours = min(
                            (
                                r
                                for r in report["runs"]
                                if r["service"] == service and r["latency_ms"] == latency * 1000
                            ),
                            key=lambda r: r["workers"],
                            default=None,
                        )
                        dpn.update(
                            service=service,
                            latency_ms=latency * 1000,
                            duplicates=stats["duplicates"],
                            connections_opened=stats["connections_opened"],
                            status_counts=stats["status_counts"],
                        )
                        if n < args.devices:
                            dpn["capped_devices"] = n
                        if ours is not None and dpn.get("per_second"):
                            dpn["ours_to_dpn"] = round(ours["per_second"] / dpn["per_second"], 1)
                        report["dpn_runs"].append(dpn)
                        print(dpn_line(dpn, ours, latency, cap_note), flush=True)
        finally:
            server.terminate()
            server.wait(10)
    if args.repeat > 1:
        print_medians(report)
    if args.dpn:
        dpn_table(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    if not os.environ.get("BENCH_KEEP_DB"):
        psql(f"DROP DATABASE IF EXISTS {DB}")


if __name__ == "__main__":
    main()
