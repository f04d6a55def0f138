"""A Live Activity from registration to an update, an end and a broadcast, through the console
backend (``make demo``'s settings print every push): what docs/live-activities.md walks through.

    python manage.py liveactivitydemo
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from django_push.compose import broadcast_channels, live_activities
from django_push.devices import registration
from django_push.models import Device, DeviceKind

USERNAME = "demo"
PHONE = "a1" * 32  # setupdemo's "Demo iPhone"
START_TOKEN = "5a" * 80
UPDATE_TOKEN = "0d" * 80
ACTIVITY_ID = "demo-match-42"


class Command(BaseCommand):
    help = (
        "Register Live Activity tokens for the demo user, then update, end and broadcast (console backend)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=USERNAME).first()
        if user is None:
            raise CommandError("Run `python manage.py setupdemo` first: it creates the demo user and iPhone.")
        phone = Device.objects.by_address("apns", "default", PHONE).first()
        try:
            # What the app posts to /api/push/devices/ (same registration code path).
            registration.register(
                platform="apns",
                application="default",
                address=START_TOKEN,
                owner=user,
                values={
                    "kind": DeviceKind.LIVEACTIVITY_START,
                    "activity_type": "MatchAttributes",
                    "installation": phone,
                },
            )
            registration.register(
                platform="apns",
                application="default",
                address=UPDATE_TOKEN,
                owner=user,
                values={
                    "kind": DeviceKind.LIVEACTIVITY_UPDATE,
                    "activity_type": "MatchAttributes",
                    "activity_id": ACTIVITY_ID,
                    "installation": phone,
                },
            )
            self.stdout.write("1. registered a push-to-start token and an update token")
            updated = live_activities.update(
                activity_ids=[ACTIVITY_ID], content_state={"home": 1, "away": 0, "minute": 23}, send_now=True
            )
            self.stdout.write(f"2. update: {updated.sent} sent ({updated.status})")
            channel = broadcast_channels.create_channel(name="Lyon – Nice (demo)")
            sent = live_activities.broadcast(
                channel, {"home": 2, "away": 0, "minute": 61}, relevance_score=50
            )
            self.stdout.write(
                f"3. broadcast on channel {channel.channel_id}: {sent.sent} request ({sent.status})"
            )
            ended = live_activities.end(
                activity_ids=[ACTIVITY_ID], content_state={"home": 2, "away": 1, "minute": 90}, send_now=True
            )
            self.stdout.write(f"4. end: {ended.sent} sent; the update token is retired")
            broadcast_channels.delete_channel(channel)
            self.stdout.write("5. channel deleted")
        except ValidationError as exc:
            raise CommandError(f"refused: {exc}") from exc
