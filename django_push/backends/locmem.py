"""In-memory backend for tests: records every push in ``django_push.testing.outbox``.

It runs the real pipeline (option checks, the base class's send loop, dispatch's bookkeeping) and
answers with scripted outcomes, so a site's tests can assert what was sent and rehearse failures.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..message import PushMessage, Target
from ..results import SendResult
from .base import BaseBackend


class LocmemBackend(BaseBackend):
    default_options: ClassVar[dict[str, Any]] = {"outcomes": None}

    async def send_one(self, message: PushMessage, target: Target) -> SendResult:
        from .. import testing

        result = testing.next_outcome(target.address, self.options["outcomes"])
        testing.outbox.append(
            testing.OutboxEntry(
                platform=self.platform if self.platform != "*" else self.alias,
                application=self.application,
                message=message,
                target=target,
                result=result,
            )
        )
        return result
