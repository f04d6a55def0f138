"""Rules the tests register (explicitly, or through DJANGO_PUSH["EVENT_RULES"])."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from django_push.compose.events import Rule
from django_push.models import Topic

User = get_user_model()

topic_created = Rule(
    model=Topic,
    on="create",
    notification_type="announcement",
    recipients=lambda topic: User.objects.filter(is_staff=True),
    title="New topic {{ topic.name }}",
    body="{{ topic.description }}",
    data=lambda topic: {"topic": topic.name},
)

topic_deleted = Rule(
    model="django_push.Topic",
    on="delete",
    notification_type="announcement",
    recipients=lambda topic: User.objects.filter(is_staff=True),
    title="Topic {{ topic.name }} (#{{ event.pk }}) is gone",
)

email_changed = Rule(
    model=User,
    on="update",
    field="email",
    notification_type="security_alert",
    recipients=lambda user: user,
    title=_("Your e-mail address changed"),
    body="{{ changes.email.0 }} → {{ user.email }}",
)

deactivated = Rule(
    model=User,
    on="update",
    field="is_active",
    changes_to=False,
    notification_type="security_alert",
    recipients=lambda user: user,
    title="Account {{ user.username }} deactivated",
)

RULES = [topic_created]
