"""Push notifications for Django: APNs, FCM HTTP v1 and Web Push from one place."""

__version__ = "0.1.0"
