import pytest
from django.contrib.auth.models import Permission

from django_push.models import Subscription

from ..factories import DeviceFactory, TopicFactory, UserFactory, WebPushDeviceFactory


def staff_with(*codenames: str, password: str = "pw"):
    """A staff user (not superuser) holding exactly these django_push permissions."""
    user = UserFactory(is_staff=True)
    user.set_password(password)
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_push", codename__in=codenames)
    )
    return user


@pytest.fixture
def broadcaster(client):
    user = staff_with("view_notification", "send_broadcast", "view_device", "change_device")
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client):
    """Staff who may look at notifications and devices but not send."""
    user = staff_with("view_notification", "view_device", "change_device", "view_delivery")
    client.force_login(user)
    return client


@pytest.fixture
def news():
    """A topic with three subscribed devices (2 APNs, 1 Web Push) and one device outside it."""
    topic = TopicFactory(name="news")
    devices = [DeviceFactory(), DeviceFactory(), WebPushDeviceFactory()]
    for device in devices:
        Subscription.objects.create(device=device, topic=topic)
    DeviceFactory()
    return topic, devices
