"""A faster HPACK encoder for hpack's pure-Python one: a memo of header representations.

Built on hpack's private encoding helpers (``_encode_indexed`` …). :func:`memo_encoder_class` checks
that they exist before subclassing and raises :class:`~django_push.transport.errors.TransportLibraryError`
otherwise, so an hpack release that renames them stops the app at start-up instead of slowing it down
or corrupting headers.
"""

from __future__ import annotations

from typing import Any

from django_push.transport.errors import TransportLibraryError

MEMO_LIMIT = 4096  # bound on the encoder's sets of sighted header fields
ENCODER_INTERNALS = (
    "header_table",
    "_encode_indexed",
    "_encode_literal",
    "_encode_indexed_literal",
    "_encode_table_size_change",
)


def has_internals(encoder: Any) -> bool:
    return all(hasattr(encoder, attr) for attr in ENCODER_INTERNALS)


def memo_encoder_class(base: type) -> type:
    """hpack's encoder, plus a memo of the header representations that cannot change.

    Most headers of a push are the same on every request (method, authority, topic, the JWT or
    OAuth token); a few are new every time (the device token in ``:path``, an expiry). hpack
    re-searches its tables and Huffman-codes every field on every request, and adds every new
    value to the dynamic table, so unique paths keep evicting the reusable entries. This encoder
    memoizes exact (name, value) -> index representations while the dynamic table is unchanged,
    and admits a value into the table only on its second sighting: one-off values are sent as
    literals without indexing (and without Huffman coding, which costs more CPU than the bytes it
    saves here). Indexing the authorization value is deliberate: HPACK only ever matches whole
    values, so a high-entropy bearer token cannot be guessed through compression (RFC 7541 §7.1).
    """

    missing = [attr for attr in ENCODER_INTERNALS[1:] if not hasattr(base, attr)]
    if missing:
        raise TransportLibraryError(
            f"{base.__module__}.{base.__name__} lacks {', '.join(missing)}: this hpack release is not one "
            "django_push was tested with (see the h2/hpack pins in pyproject.toml)."
        )

    class MemoEncoder(base):
        def __init__(self) -> None:
            super().__init__()
            self.memo: dict[tuple[bytes, bytes], bytes] = {}
            self.seen: set[tuple[bytes, bytes]] = set()  # sighted once: a table entry next time
            self.indexed: set[tuple[bytes, bytes]] = set()  # added to the table (maybe evicted since)
            mapping = self.header_table.STATIC_TABLE_MAPPING
            self.static_names = {name: entry[0] for name, entry in mapping.items()}

        def encode(self, headers: Any, huffman: bool = True) -> bytes:
            memo = self.memo
            parts = []
            if self.header_table.resized:  # the peer changed SETTINGS_HEADER_TABLE_SIZE
                parts.append(self._encode_table_size_change())
                self.header_table.resized = False
                memo.clear()
            for header in headers:
                encoded = memo.get(header)
                if encoded is None:
                    encoded = self.encode_field(header)
                parts.append(encoded)
            return b"".join(parts)

        def encode_field(self, header: tuple[bytes, bytes]) -> bytes:
            name, value = header
            seen = self.seen
            if header not in seen and header not in self.indexed:
                # First sighting (a device token in the path, an expiry): a literal, not indexed.
                if len(seen) > MEMO_LIMIT:
                    seen.clear()
                seen.add(header)
                index = self.static_names.get(name)
                if index is None:
                    return self._encode_literal(name, value, b"\x00", False)
                if index < 15 and len(value) < 127:  # RFC 7541 §6.2.2, one-byte prefix and length
                    return bytes((index, len(value))) + value
                return self._encode_indexed_literal(index, value, b"\x00", False)
            match = self.header_table.search(name, value)
            if match is not None and match[2] is not None:
                encoded = self._encode_indexed(match[0])
                self.memo[header] = encoded  # valid until the dynamic table changes
                return encoded
            # Seen before: worth a table entry. Adding it shifts every dynamic index.
            seen.discard(header)
            if len(self.indexed) > MEMO_LIMIT:
                self.indexed.clear()
            self.indexed.add(header)
            self.memo.clear()
            return super().add(header, False, True)

    return MemoEncoder
