"""``manage.py syncfcmtopics``: apply pending FCM topic changes, or ``--repair`` drift."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_push.dispatch import topic_sync
from django_push.models import FCMTopicChange, TopicSyncStatus


class Command(BaseCommand):
    help = (
        "Keep FCM's topics in sync with local Subscriptions of FCM devices (FCM_TOPIC_SYNC): send the "
        "pending changes to Instance ID; --repair first records the state every subscription should have."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Record add/remove for every FCM subscription (active/inactive device), then sync.",
        )

    def handle(self, *args: Any, repair: bool = False, **options: Any) -> None:
        if not topic_sync.enabled():
            raise CommandError(
                'FCM topic sync is off: set DJANGO_PUSH["FCM_TOPIC_SYNC"] = True (and configure the '
                '"fcm" backend) to keep FCM topics in sync with local subscriptions.'
            )
        if repair:
            recorded = topic_sync.repair(run=False)
            self.stdout.write(f"recorded {recorded} topic change(s) to check")
        applied = topic_sync.sync_pending()
        pending = FCMTopicChange.objects.filter(status=TopicSyncStatus.PENDING).count()
        failed = FCMTopicChange.objects.filter(status=TopicSyncStatus.FAILED).count()
        self.stdout.write(f"applied {applied}; {pending} pending (retried later); {failed} failed")
