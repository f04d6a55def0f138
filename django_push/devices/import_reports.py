"""What ``importpushdevices`` found: the error that stops it before it starts, and the per-model and
overall counts it returns (see ``django_push.devices.importing``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SAMPLE_IDS = 5


class DeviceImportError(Exception):
    """The import cannot start: the source app is missing, its tables too, or an option is wrong."""


@dataclass
class ModelReport:
    """What happened to one source model's rows (all counts are rows of the source table)."""

    model: str  # "push_notifications.APNSDevice"
    platform: str  # target platform, "" when the model is refused
    rows: int = 0
    imported: int = 0  # inserted (or, in a dry run, would be)
    already_present: int = 0  # the address was in django_push before this run
    duplicates: int = 0  # the same address came from a newer source row
    legacy_gcm: int = 0
    invalid: Counter[str] = field(default_factory=Counter)  # reason -> rows
    invalid_detail: dict[str, str] = field(default_factory=dict)  # reason -> first validator message
    invalid_ids: dict[str, list[Any]] = field(default_factory=dict)  # reason -> first source ids
    # (source application id or "", target application) -> rows, for targets not configured
    unknown_applications: Counter[tuple[str, str]] = field(default_factory=Counter)
    rebuilt_endpoints: int = 0  # legacy WebPushDevice rows whose endpoint was completed
    refused: str = ""  # why the whole model is not imported

    @property
    def skipped(self) -> int:
        return self.rows - self.imported

    def _invalid(self, reason: str, detail: str, pk: Any) -> None:
        self.invalid[reason] += 1
        self.invalid_detail.setdefault(reason, detail)
        ids = self.invalid_ids.setdefault(reason, [])
        if len(ids) < SAMPLE_IDS:
            ids.append(pk)


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    models: list[ModelReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.models)

    @property
    def imported(self) -> int:
        return sum(m.imported for m in self.models)
