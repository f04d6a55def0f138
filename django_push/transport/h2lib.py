"""The HTTP/2 library binding: ``h2`` or ``jh2`` (the same API), with the two changes we rely on.

This is the one place that touches h2's private names. They are checked when a library is bound
(:func:`library`), and a missing one raises :class:`~django_push.transport.errors.TransportLibraryError`
naming it: if h2 renamed ``_receive_goaway_frame``, the override would silently stop and every GOAWAY
would turn accepted pushes into duplicates, so we refuse to run instead. ``pyproject.toml`` pins h2 and
hpack to the ranges the tests ran.

The library is a transport option (``h2_library``: ``"h2"``, ``"jh2"`` or ``"auto"``, which takes jh2
when it is installed), set per backend in ``DJANGO_PUSH["BACKENDS"][alias]["OPTIONS"]``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from django_push.transport.errors import TransportLibraryError
from django_push.transport.hpack import has_internals, memo_encoder_class

GC_SLACK = 256  # closed h2 stream objects tolerated before they are swept (amortized O(1))
LIBRARIES = ("h2", "jh2")
#: Private names of h2 this module overrides or calls, checked at binding time.
PRIVATE_NAMES = (
    ("connection", "H2Connection", "_receive_goaway_frame"),
    ("connection", "H2Connection", "open_outbound_streams"),
    ("errors", "_error_code_from_int", None),
)


def check_private_names(name: str, modules: dict[str, Any]) -> None:
    """Raise TransportLibraryError unless every private name we rely on exists in ``name``."""
    for module, attr, sub in PRIVATE_NAMES:
        owner = getattr(modules[module], attr, None)
        if owner is None or (sub is not None and not hasattr(owner, sub)):
            missing = f"{name}.{module}.{attr}" + (f".{sub}" if sub else "")
            raise TransportLibraryError(
                f"{missing} is missing: this {name} release is not one django_push was tested with "
                "(see the h2/hpack pins in pyproject.toml). Install a supported version."
            )
    prop = modules["connection"].H2Connection.open_outbound_streams
    if not isinstance(prop, property) or prop.fget is None:
        raise TransportLibraryError(
            f"{name}.connection.H2Connection.open_outbound_streams is no longer a property"
        )


class Library:
    """``h2`` or ``jh2`` (the same API): the classes this module uses, bound once per library."""

    def __init__(self, name: str) -> None:
        config = importlib.import_module(f"{name}.config")
        connection = importlib.import_module(f"{name}.connection")
        events = importlib.import_module(f"{name}.events")
        exceptions = importlib.import_module(f"{name}.exceptions")
        errors = importlib.import_module(f"{name}.errors")
        check_private_names(name, {"connection": connection, "errors": errors})
        self.name = name
        self.ResponseReceived = events.ResponseReceived
        self.DataReceived = events.DataReceived
        self.StreamEnded = events.StreamEnded
        self.StreamReset = events.StreamReset
        self.WindowUpdated = events.WindowUpdated
        self.RemoteSettingsChanged = events.RemoteSettingsChanged
        self.ConnectionTerminated = events.ConnectionTerminated
        self.PushedStreamReceived = events.PushedStreamReceived
        self.H2Error = exceptions.H2Error
        self.config = config.H2Configuration(
            client_side=True,
            header_encoding=None,
            # We build every header ourselves (lower-case names, pseudo-headers first, no
            # connection-specific fields): re-checking them per request is pure cost.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            # Checking every character of every response header name in Python costs more than
            # the rest of the receive path; we read only :status and hand the rest to httpx.
            validate_inbound_headers=False,
        )
        probe = connection.H2Connection(config=self.config).encoder
        memo_encoder = None
        # Only over hpack's pure-Python encoder (jh2 brings its own, in Rust, fast enough as it is).
        if name == "h2" or has_internals(probe):
            memo_encoder = memo_encoder_class(type(probe))
        goaway_event, error_code_from_int = events.ConnectionTerminated, errors._error_code_from_int

        class Connection(connection.H2Connection):  # type: ignore[name-defined]
            """h2's client, with two changes this transport relies on.

            * A received GOAWAY does not close the state machine: h2 would then refuse every later
              frame, including the answers to streams the server accepted (id <= last_stream_id),
              which RFC 9113 says it still sends. Losing them would turn accepted pushes into
              retries, i.e. duplicates. The transport itself stops opening streams on GOAWAY.
            * ``open_outbound_streams`` is the transport's own count of streams in flight instead
              of a walk over every stream h2 knows (O(n) on each new stream); closed stream objects
              are swept in batches by :meth:`sweep`.
            """

            def __init__(self, config: Any, in_flight: dict[int, Any]) -> None:
                super().__init__(config=config)
                self.in_flight = in_flight
                self.next_sweep = GC_SLACK
                if memo_encoder is not None:
                    self.encoder = memo_encoder()

            @property
            def open_outbound_streams(self) -> int:
                return len(self.in_flight)

            def sweep(self) -> None:
                """Drop h2's closed stream objects every GC_SLACK new streams (amortized O(1))."""
                if len(self.streams) >= self.next_sweep:
                    connection.H2Connection.open_outbound_streams.fget(self)
                    self.next_sweep = len(self.streams) + GC_SLACK

            def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[Any]]:
                event = goaway_event()
                event.error_code = error_code_from_int(frame.error_code)
                event.last_stream_id = frame.last_stream_id
                event.additional_data = frame.additional_data or None
                return [], [event]

        self.Connection = Connection


_libraries: dict[str, Library] = {}


def resolve(choice: str) -> str:
    """The library for an ``h2_library`` option: ``"h2"``, ``"jh2"`` (must be installed) or ``"auto"``."""
    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        return "jh2" if importlib.util.find_spec("jh2") is not None else "h2"
    if choice not in LIBRARIES:
        raise TransportLibraryError(f"h2_library is {choice!r}; use 'h2', 'jh2' or 'auto'.")
    if importlib.util.find_spec(choice) is None:
        raise TransportLibraryError(f"h2_library is {choice!r} but {choice} is not installed.")
    return choice


def library(choice: str = "h2") -> Library:
    """The bound library for an ``h2_library`` option (checked once per process)."""
    name = resolve(choice)
    lib = _libraries.get(name)
    if lib is None:
        lib = _libraries[name] = Library(name)
    return lib
