"""Behaviours every backend must have, run over each one (like Django's mail backend tests).

A test module subclasses :class:`BackendContract` and implements ``make_backend`` (and, for backends
that cannot fail on demand, sets ``can_script_failures = False``).
"""

from __future__ import annotations

import asyncio

import pytest

from django_push.exceptions import PushConfigurationError
from django_push.message import PushMessage, Target
from django_push.results import DeliveryStatus, SendResult


class BackendContract:
    def make_backend(self, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def make_targets(self, n: int) -> list[Target]:
        return [Target(f"{i:064x}", key=i) for i in range(n)]

    def test_one_result_per_target_in_order(self):
        backend = self.make_backend()
        targets = self.make_targets(25)
        results = backend.send(PushMessage(title="t", body="b"), targets)
        assert len(results) == len(targets)
        assert all(isinstance(r, SendResult) for r in results)
        assert all(r.status == DeliveryStatus.SENT for r in results)

    def test_empty_target_list_sends_nothing(self):
        assert self.make_backend().send(PushMessage(title="t"), []) == []

    def test_async_core_matches_sync_facade(self):
        backend = self.make_backend()
        targets = self.make_targets(3)

        async def go():
            async with backend:
                return await backend.asend(PushMessage(title="t"), targets)

        results = asyncio.run(go())
        assert [r.status for r in results] == [DeliveryStatus.SENT] * 3

    def test_on_result_reports_each_index_once(self):
        backend = self.make_backend()
        seen: list[int] = []
        from django_push.transport import loop

        loop.run(
            backend.asend(PushMessage(title="t"), self.make_targets(7), on_result=lambda i, r: seen.append(i))
        )
        assert sorted(seen) == list(range(7))

    def test_unknown_option_names_the_setting(self):
        with pytest.raises(PushConfigurationError, match=r"unknown option\(s\) 'no_such_option'"):
            self.make_backend(no_such_option=1)

    def test_context_manager_opens_and_closes(self):
        backend = self.make_backend()
        with backend as b:
            assert b.opened
        assert not backend.opened


class ScriptableContract(BackendContract):
    """For backends whose answers a test can choose: failures must come back as results."""

    def script(self, target: Target, status: DeliveryStatus) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def test_per_target_failures_are_results_not_exceptions(self):
        backend = self.make_backend()
        targets = self.make_targets(4)
        self.script(targets[1], DeliveryStatus.INVALID_TOKEN)
        self.script(targets[2], DeliveryStatus.UNAVAILABLE)
        results = backend.send(PushMessage(title="t"), targets)
        assert [r.status for r in results] == [
            DeliveryStatus.SENT,
            DeliveryStatus.INVALID_TOKEN,
            DeliveryStatus.UNAVAILABLE,
            DeliveryStatus.SENT,
        ]
        assert results[2].retryable and not results[1].retryable
