"""``manage.py generatevapidkeys``: print a new VAPID key pair for Web Push.

The public key goes to browsers (``DJANGO_PUSH["VAPID_PUBLIC_KEY"]``, the ``applicationServerKey``
of ``pushManager.subscribe``); the private key goes to the Web Push backend's OPTIONS
(``vapid_private_key``). Nothing is written anywhere: the operator decides where secrets live.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand, CommandParser

from django_push.backends.webpush import b64url


def generate_vapid_keys() -> tuple[str, str]:
    """A new P-256 pair: (public key as base64url uncompressed point, private key as base64url raw)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(public), b64url(private)


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push (public key for browsers, private key for OPTIONS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=("env", "json"),
            default="env",
            help="env: labelled KEY=value lines (default); json: one JSON object.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        public, private = generate_vapid_keys()
        if options["format"] == "json":
            self.stdout.write(json.dumps({"public_key": public, "private_key": private}, indent=2))
            return
        self.stdout.write(
            "# Web Push VAPID key pair. Keep the private key secret; changing it later invalidates every\n"
            "# browser subscription made with the old public key.\n"
            '# Public key: DJANGO_PUSH["VAPID_PUBLIC_KEY"] (served to browsers)\n'
            f"VAPID_PUBLIC_KEY={public}\n"
            '# Private key: DJANGO_PUSH["BACKENDS"]["webpush"]["OPTIONS"]["vapid_private_key"]\n'
            f"VAPID_PRIVATE_KEY={private}"
        )
