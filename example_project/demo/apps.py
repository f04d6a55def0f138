from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "example_project.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Explicit registration: the demo's rules (a comment notifies the post's author, push + inbox).
        from django_push.compose import events

        from . import rules

        events.register(*rules.RULES)
