"""The delivery engine's promises: planned work is a ledger, ambiguity is an outcome, retries are
budgeted in time, and a request the service never processed costs no attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_push import dispatch, testing
from django_push.dispatch import chunks, jobs
from django_push.message import PushMessage
from django_push.models import Delivery, DeliveryPolicy, Notification
from django_push.results import DeliveryStatus, SendResult

from ..factories import DeviceFactory

pytestmark = pytest.mark.django_db(transaction=True)
LOST = SendResult.unavailable("read_error", "ReadError: connection lost", ambiguous=True)
NOT_PROCESSED = SendResult.unavailable("not_processed", "GOAWAY above 7", counts_attempt=False)


@pytest.fixture
def lost_jobs(monkeypatch):
    """A site on Celery whose broker loses every chunk job (a worker killed with them prefetched);
    other jobs run here."""
    dropped: list[tuple] = []

    def enqueue(task_name, func, *args, countdown=None):
        if task_name == chunks.CHUNK_TASK:
            dropped.append(args)
            return
        func(*args)

    monkeypatch.setattr(jobs, "use_celery", lambda: True)  # chunks go out as tasks, one per chunk
    monkeypatch.setattr(jobs, "enqueue", enqueue)
    return dropped


def _age(notification: Notification, seconds: float) -> None:
    """Move the notification's and its deliveries' clocks back, as if ``seconds`` had passed."""
    past = timezone.now() - timedelta(seconds=seconds)
    Delivery.objects.filter(notification=notification).update(created_at=past, updated_at=past)
    Notification.objects.filter(pk=notification.pk).update(started_at=past, progress_at=None)


def test_planned_chunks_are_in_the_ledger_and_the_sweep_recovers_them(lost_jobs, monkeypatch):
    devices = DeviceFactory.create_batch(5)
    n = dispatch.create(audience={"devices": [d.pk for d in devices]}, title="ledger")
    dispatch.plan(n.pk)
    assert lost_jobs, "the chunk job was queued (and lost)"
    assert Delivery.objects.filter(notification=n, status=DeliveryStatus.PENDING).count() == 5

    # Within the grace period, and while the notification makes progress, nothing is requeued.
    assert dispatch.send_due() == 0
    _age(n, 120)
    monkeypatch.setattr(jobs, "enqueue", lambda name, func, *args, countdown=None: func(*args))
    assert dispatch.send_due() == 1
    n.refresh_from_db()
    assert (n.sent, n.status) == (5, "done")
    assert len(testing.outbox) == 5


def test_a_stalled_notification_is_requeued_once_per_grace(lost_jobs):
    devices = DeviceFactory.create_batch(3)
    n = dispatch.create(audience={"devices": [d.pk for d in devices]}, title="stall")
    dispatch.plan(n.pk)
    _age(n, 120)
    lost_jobs.clear()
    assert dispatch.send_due() == 1
    assert dispatch.send_due() == 0  # stamped: not again on the next sweep
    assert len(lost_jobs) == 1


def test_a_planner_that_died_is_planned_again():
    device = DeviceFactory()
    n = dispatch.create(audience={"devices": [device.pk]}, title="replan")
    Notification.objects.filter(pk=n.pk).update(
        status="sending", started_at=timezone.now() - timedelta(minutes=5), planned_at=None
    )
    assert dispatch.send_due() == 1
    n.refresh_from_db()
    assert (n.sent, n.status) == (1, "done")


def test_every_push_carries_the_notifications_dedupe_key_unless_it_has_a_collapse_key():
    a, b = DeviceFactory.create_batch(2)
    n = dispatch.send_message(PushMessage(title="x"), [a])
    key = chunks.dedupe_key(n)
    assert key.startswith("dp-") and testing.outbox[0].message.dedupe_key == key
    assert testing.outbox[0].message.collapse_id == key and not testing.outbox[0].message.resend
    dispatch.send_message(PushMessage(title="y", collapse_key="score"), [b])
    assert testing.outbox[1].message.collapse_id == "score"


def test_a_push_lost_with_its_connection_is_resent_collapse_keyed():
    device = DeviceFactory()
    testing.script_outcome(device.address, LOST)
    n = dispatch.send_message(PushMessage(title="x"), [device])
    first, resend = [e.message for e in testing.outbox]
    assert first.dedupe_key == resend.dedupe_key == chunks.dedupe_key(n)
    assert (first.resend, resend.resend) == (False, True)
    d = Delivery.objects.get(notification=n)
    assert (d.status, d.ambiguous_retry, n.sent) == ("sent", True, 1)


def test_at_most_once_records_unknown_and_never_resends():
    device = DeviceFactory()
    testing.script_outcome(device.address, LOST)
    n = dispatch.create(
        audience={"devices": [device.pk]}, title="x", delivery_policy=DeliveryPolicy.AT_MOST_ONCE
    )
    dispatch.plan(n.pk, inline=True)
    n.refresh_from_db()
    assert len(testing.outbox) == 1 and testing.outbox[0].message.dedupe_key == ""
    d = Delivery.objects.get(notification=n)
    assert d.status == DeliveryStatus.UNKNOWN and "at-most-once" in d.reason
    assert (n.unknown, n.failed, n.sent, n.status, n.pending) == (1, 0, 0, "done", 0)


def test_an_orphaned_claim_is_resent_or_closed_unknown_by_policy():
    a, b = DeviceFactory.create_batch(2)
    stale = timezone.now() - timedelta(hours=1)
    results = {}
    for device, policy in ((a, DeliveryPolicy.AT_LEAST_ONCE), (b, DeliveryPolicy.AT_MOST_ONCE)):
        n = dispatch.create(audience={"devices": [device.pk]}, title=policy, delivery_policy=policy)
        Notification.objects.filter(pk=n.pk).update(status="sending", planned_at=timezone.now(), targeted=1)
        Delivery.objects.create(
            notification=n, device=device, platform="apns", claim="dead-worker", in_flight_since=stale
        )
        dispatch.process_chunk(n.pk, [device.pk])
        results[policy] = Delivery.objects.get(notification=n)
    resent, closed = results[DeliveryPolicy.AT_LEAST_ONCE], results[DeliveryPolicy.AT_MOST_ONCE]
    assert (resent.status, resent.ambiguous_retry) == ("sent", True)
    assert testing.outbox[0].message.resend is True
    assert closed.status == DeliveryStatus.UNKNOWN and len(testing.outbox) == 1


def test_giving_up_after_an_ambiguous_loss_records_unknown_not_failed(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "MAX_ATTEMPTS": 2}
    maybe, never = DeviceFactory.create_batch(2)
    testing.script_outcome(maybe.address, LOST, SendResult.unavailable("http_503", "down"))
    testing.script_outcome(never.address, *[SendResult.unavailable("http_503", "down")] * 2)
    n = dispatch.send_message(PushMessage(title="x"), [maybe, never])
    statuses = dict(Delivery.objects.filter(notification=n).values_list("device_id", "status"))
    assert statuses == {maybe.pk: "unknown", never.pk: "failed"}
    assert (n.unknown, n.failed, n.status) == (1, 1, "done")


def test_retries_stop_when_the_time_budget_is_spent(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "RETRY_BUDGET": 0.001}
    device = DeviceFactory()
    testing.script_outcome(device.address, *[SendResult.unavailable("http_500", "oops")] * 3)
    n = dispatch.send_message(PushMessage(title="x"), [device])
    d = Delivery.objects.get(notification=n)
    assert d.status == "failed" and d.reason.startswith("gave up after 1 attempts")
    assert len(testing.outbox) == 1


def test_a_request_the_service_never_processed_costs_no_attempt(settings):
    settings.DJANGO_PUSH = {**settings.DJANGO_PUSH, "MAX_ATTEMPTS": 2}
    device = DeviceFactory()
    testing.script_outcome(device.address, *[NOT_PROCESSED] * 4)
    n = dispatch.send_message(PushMessage(title="x"), [device])
    d = Delivery.objects.get(notification=n)
    assert (d.status, d.attempts) == ("sent", 1)
    assert len(testing.outbox) == 5


def test_a_notification_type_sets_the_policy(settings):
    from django_push.compose.send import send
    from django_push.compose.types import NotificationType
    from django_push.exceptions import PushConfigurationError

    settings.DJANGO_PUSH = {
        **settings.DJANGO_PUSH,
        "NOTIFICATION_TYPES": {"login_code": {"delivery_policy": "at_most_once", "channels": ["push"]}},
    }
    device = DeviceFactory()
    n = send("login_code", to=device, title="Your code is 123456")
    assert n.delivery_policy == "at_most_once"
    with pytest.raises(PushConfigurationError, match="delivery_policy"):
        NotificationType("x", delivery_policy="exactly_once")


@pytest.mark.parametrize(
    "depth, expected",
    [
        (2, ["prepare 2", "prepare 2", "finish", "prepare 2", "finish", "finish"]),
        (3, ["prepare 2", "prepare 2", "prepare 2", "finish", "finish", "finish"]),
    ],
)
def test_process_chunks_overlaps_the_next_chunks_database_work_with_the_sends(monkeypatch, depth, expected):
    """The pipeline: later chunks are claimed and sent while the first one's pushes are still in
    flight (up to PIPELINE_DEPTH chunks), and every chunk is recorded exactly as process_chunk
    records it."""
    monkeypatch.setattr(chunks, "PIPELINE_DEPTH", depth)
    # As if no chunk were answered before the next is prepared (the test backend answers at once).
    monkeypatch.setattr(chunks._InFlight, "done", lambda self: False)
    devices = DeviceFactory.create_batch(6)
    n = dispatch.create(audience={"devices": [d.pk for d in devices]}, title="pipelined")
    events: list[str] = []
    real_prepare, real_finish = chunks._prepare, chunks._finish

    def prepare(nid, ids, attempt):
        events.append(f"prepare {len(ids)}")
        return real_prepare(nid, ids, attempt)

    def finish(flight):
        events.append("finish")
        return real_finish(flight)

    monkeypatch.setattr(chunks, "_prepare", prepare)
    monkeypatch.setattr(chunks, "_finish", finish)
    ids = [d.pk for d in devices]
    from django_push.dispatch import recording

    recording.create_deliveries(n.pk, ids, timezone.now())
    Notification.objects.filter(pk=n.pk).update(status="sending", targeted=6, planned_at=timezone.now())
    dispatch.process_chunks(n.pk, [ids[:2], ids[2:4], ids[4:]])
    assert events == expected
    n.refresh_from_db()
    assert (n.sent, n.status) == (6, "done") and len(testing.outbox) == 6


def test_a_job_of_several_chunks_runs_them_pipelined(monkeypatch):
    """process_chunk (a Celery task's body) given CHUNKS_PER_TASK chunks' devices splits them into
    CHUNK_SIZE chunks and sends them through the pipeline, each claimed and recorded on its own."""
    devices = DeviceFactory.create_batch(7)
    ids = [d.pk for d in devices]
    n = dispatch.create(audience={"devices": ids}, title="one job, three chunks")
    from django_push.dispatch import recording

    recording.create_deliveries(n.pk, ids, timezone.now())
    Notification.objects.filter(pk=n.pk).update(status="sending", targeted=7, planned_at=timezone.now())
    prepared: list[int] = []
    real_prepare = chunks._prepare
    monkeypatch.setattr(
        chunks,
        "_prepare",
        lambda nid, chunk, attempt: prepared.append(len(chunk)) or real_prepare(nid, chunk, attempt),
    )
    with testing.override_push_backends(CHUNK_SIZE=3) as outbox:
        dispatch.process_chunk(n.pk, ids)
        assert len(outbox) == 7
    assert prepared == [3, 3, 1]
    n.refresh_from_db()
    assert (n.sent, n.status) == (7, "done")


@pytest.mark.parametrize("per_task, jobs_expected", [(1, [3, 3, 3, 1]), (2, [6, 4]), (4, [10])])
def test_the_celery_planner_queues_chunks_per_task_chunks_per_job(monkeypatch, per_task, jobs_expected):
    """With Celery, one task carries CHUNKS_PER_TASK chunks (the worker pipelines them), and every
    device's delivery exists before its task is queued (the ledger)."""
    devices = DeviceFactory.create_batch(10)
    queued: list[tuple] = []

    def enqueue(task_name, func, *args, countdown=None):
        if task_name == chunks.CHUNK_TASK:
            nid, ids = args[0], args[1]
            assert Delivery.objects.filter(notification_id=nid, device_id__in=ids).count() == len(ids)
            queued.append(args)
            return
        func(*args)

    monkeypatch.setattr(jobs, "use_celery", lambda: True)
    monkeypatch.setattr(jobs, "enqueue", enqueue)
    with testing.override_push_backends(CHUNK_SIZE=3, CHUNKS_PER_TASK=per_task):
        n = dispatch.notify(audience={"all": True}, title="grouped")
        assert [len(args[1]) for args in queued] == jobs_expected
        assert sorted(pk for args in queued for pk in args[1]) == sorted(d.pk for d in devices)
        for args in queued:  # the worker runs them
            dispatch.process_chunk(*args)
    n.refresh_from_db()
    assert (n.sent, n.status) == (10, "done")


def test_recording_writes_the_outcome_and_the_provider_message_id_in_one_update():
    """SENT answers with a message id get status, attempts, sent_at and message_id from one
    UPDATE … FROM (VALUES …); answers without one, and other outcomes, are written as before."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_push.dispatch import recording
    from django_push.dispatch.recording import Outcome

    devices = DeviceFactory.create_batch(4)
    n = dispatch.create(audience={"devices": [d.pk for d in devices]}, title="ids")
    now = timezone.now()
    recording.create_deliveries(n.pk, [d.pk for d in devices], now)
    rows = {d.device_id: d for d in Delivery.objects.filter(notification=n)}
    results = [
        SendResult(DeliveryStatus.SENT, message_id="apns-id-1"),
        SendResult(DeliveryStatus.SENT, message_id="apns-id-2"),
        SendResult(DeliveryStatus.SENT),
        SendResult.unavailable("500", "InternalServerError"),
    ]
    outcomes = [
        Outcome(rows[d.pk].pk, 0, d, r, created_at=now) for d, r in zip(devices, results, strict=True)
    ]
    with CaptureQueriesContext(connection) as queries:
        retry = recording.record(n, outcomes, now)
    assert [pk for pk, _ in retry] == [devices[3].pk]
    got = {d.device_id: d for d in Delivery.objects.filter(notification=n)}
    assert [(got[d.pk].status, got[d.pk].message_id, got[d.pk].attempts) for d in devices] == [
        ("sent", "apns-id-1", 1),
        ("sent", "apns-id-2", 1),
        ("sent", "", 1),
        ("unavailable", "", 1),
    ]
    assert all(got[d.pk].sent_at == now and got[d.pk].claim == "" for d in devices[:3])
    assert got[devices[3].pk].sent_at is None
    delivery_updates = [
        q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "WITH")) and "delivery" in q["sql"]
    ]
    assert sum("message_id" in sql for sql in delivery_updates) == 1
    assert len(delivery_updates) == 3  # sent with ids, sent without, unavailable
    n.refresh_from_db()
    assert n.sent == 3
