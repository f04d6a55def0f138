from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoPushConfig(AppConfig):
    name = "django_push"
    verbose_name = _("Push notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Explicit registration: checks and receivers are connected here, never by import side effects.
        from django_push import checks, receivers

        checks.register()
        receivers.connect()
