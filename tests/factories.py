import factory
from django.contrib.auth import get_user_model

from django_push.models import Device, Topic


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    platform = "apns"
    application = "default"
    owner = factory.SubFactory(UserFactory)
    address = factory.Sequence(lambda n: f"{n:064x}")


class WebPushDeviceFactory(DeviceFactory):
    platform = "webpush"
    address = factory.Sequence(lambda n: f"https://fcm.googleapis.com/fcm/send/sub-{n}")
    p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    auth = "tBHItJI5svbpez7KI4CCXg"


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic

    name = factory.Sequence(lambda n: f"topic-{n}")
