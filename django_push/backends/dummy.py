"""A backend that accepts everything and sends nothing: for load tests of the database side."""

from __future__ import annotations

from ..message import PushMessage, Target
from ..results import SendResult
from .base import BaseBackend


class DummyBackend(BaseBackend):
    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        return SendResult.sent()
