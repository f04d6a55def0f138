"""Create the demo superuser, a few devices and a topic (idempotent) and print the credentials."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from django_push.models import Device, Subscription, Topic

USERNAME = "demo"
PASSWORD = "demo-push-123"


class Command(BaseCommand):
    help = "Create the demo superuser and sample devices."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=USERNAME, defaults={"email": "demo@example.com", "is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        news, _ = Topic.objects.get_or_create(name="news", defaults={"description": "Product news"})
        samples = [
            ("apns", "a1" * 32, "Demo iPhone"),
            ("fcm", "demo-fcm-token:" + "x" * 140, "Demo Pixel"),
            ("webpush", "https://fcm.googleapis.com/fcm/send/demo-subscription", "Demo Chrome"),
        ]
        for platform, address, name in samples:
            device = Device.objects.by_address(platform, "default", address).first()
            if device is None:
                device = Device(platform=platform, address=address, name=name, owner=user)
                if platform == "webpush":
                    device.p256dh = (
                        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1X"
                        "bjhazAkj7I99e8QcYP7DkM"
                    )
                    device.auth = "tBHItJI5svbpez7KI4CCXg"
                device.save()
            Subscription.objects.get_or_create(device=device, topic=news)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo superuser: username={USERNAME} password={PASSWORD}  →  http://127.0.0.1:8000/admin/"
            )
        )
