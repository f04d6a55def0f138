"""Prints each push to a stream (stdout by default), like Django's console email backend."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from typing import Any, ClassVar

from django_push.backends.apns_channels import LocalChannelsMixin
from django_push.backends.base import BaseBackend
from django_push.message import PushMessage, Target
from django_push.results import SendResult

_write_lock = threading.Lock()


class ConsoleBackend(LocalChannelsMixin, BaseBackend):
    default_options: ClassVar[dict[str, Any]] = {"stream": None}

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        stream = self.options["stream"] or sys.stdout
        message_id = uuid.uuid4().hex
        payload: dict[str, Any] = {"title": message.title, "body": message.body, "data": message.data}
        if message.live_activity is not None:
            payload["live_activity"] = message.live_activity
        line = (
            f"[django_push:{self.alias}/{self.application}] to {target!r} id={message_id} "
            f"{json.dumps(payload, ensure_ascii=False, default=str)}\n"
        )
        with _write_lock:
            stream.write(line)
            stream.flush()
        return SendResult.sent(message_id)
