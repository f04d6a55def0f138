"""The shared contract over the credential-free backends."""

import io

from django_push import testing
from django_push.backends.console import ConsoleBackend
from django_push.backends.dummy import DummyBackend
from django_push.backends.locmem import LocmemBackend
from django_push.message import PushMessage, Target

from .contract import BackendContract, ScriptableContract


class TestLocmem(ScriptableContract):
    def make_backend(self, **options):
        return LocmemBackend(alias="apns", **options)

    def script(self, target, status):
        testing.script_outcome(target.address, status)

    def test_outbox_records_message_and_target(self):
        target = Target("ab" * 32, key=7)
        self.make_backend().send(PushMessage(title="Hello"), [target])
        assert [(e.message.title, e.target.key, e.platform) for e in testing.outbox] == [("Hello", 7, "apns")]

    def test_static_outcomes_option(self):
        backend = self.make_backend(outcomes={"dead": "invalid_token"})
        results = backend.send(PushMessage(title="t"), [Target("dead"), Target("alive")])
        assert [r.status.value for r in results] == ["invalid_token", "sent"]


class TestConsole(BackendContract):
    def make_backend(self, **options):
        self.stream = io.StringIO()
        options.setdefault("stream", self.stream)
        return ConsoleBackend(alias="fcm", **options)

    def test_prints_payload_without_whole_token(self):
        token = "f" * 100
        self.make_backend().send(PushMessage(title="Bonjour", body="ça va"), [Target(token)])
        out = self.stream.getvalue()
        assert "Bonjour" in out and "ça va" in out and token not in out


class TestDummy(BackendContract):
    def make_backend(self, **options):
        return DummyBackend(alias="webpush", **options)
