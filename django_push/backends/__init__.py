"""Push backends: one class per service behind :class:`~django_push.backends.base.BaseBackend`."""
