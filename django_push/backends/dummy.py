"""A backend that accepts everything and sends nothing: for load tests of the database side."""

from __future__ import annotations

from django_push.backends.apns_channels import LocalChannelsMixin
from django_push.backends.base import BaseBackend
from django_push.message import PushMessage, Target
from django_push.results import SendResult


class DummyBackend(LocalChannelsMixin, BaseBackend):
    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        return SendResult.sent()
