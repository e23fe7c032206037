"""The load report: per file read, accepted, rejected, warnings and reasons; JSON and a Rich table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from bankcrm.ingest.spec import FILES

LOADED, FAILED, SKIPPED = "loaded", "failed", "skipped"


@dataclass
class FileReport:
    name: str
    file: str = ""
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    warning_reasons: dict[str, int] = field(default_factory=dict)
    status: str = LOADED
    message: str | None = None
    seconds: float = 0.0
    # seconds per step (parent keys, read and check, duplicates, rejects, database, lake)
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def warnings(self) -> int:
        return sum(self.warning_reasons.values())

    def counts(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "reasons": dict(sorted(self.reasons.items())),
        }


@dataclass
class LoadReport:
    bundle_dir: str
    load_id: int | None = None
    files: dict[str, FileReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every file present was read (rejected rows do not count against it)."""
        return all(f.status == LOADED for f in self.files.values())

    def ordered(self) -> list[FileReport]:
        order = {s.name: i for i, s in enumerate(FILES)}
        return sorted(self.files.values(), key=lambda f: order.get(f.name, 99))

    def to_json(self) -> dict[str, Any]:
        """``files`` holds exactly read/accepted/rejected/warnings/reasons per file; the rest is extra."""
        files = self.ordered()
        return {
            "files": {f.name: f.counts() for f in files},
            "load_id": self.load_id,
            "status": "loaded" if self.ok else "incomplete",
            "warnings": {f.name: dict(sorted(f.warning_reasons.items())) for f in files if f.warning_reasons},
            "errors": {f.name: f.message for f in files if f.status == FAILED},
            "skipped": {f.name: f.message for f in files if f.status == SKIPPED},
            "seconds": round(self.seconds, 3),
            "file_seconds": {f.name: round(f.seconds, 3) for f in files},
            "file_steps": {f.name: f.steps for f in files if f.steps},
        }

    def table(self) -> Table:
        t = Table(title=f"Load {self.load_id} of {self.bundle_dir}")
        for col, justify in (
            ("file", "left"),
            ("read", "right"),
            ("accepted", "right"),
            ("rejected", "right"),
            ("warnings", "right"),
            ("reasons", "left"),
            ("status", "left"),
        ):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        for f in self.ordered():
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(f.reasons.items()))
            if f.warning_reasons:
                reasons = "; ".join(
                    x for x in (reasons, ", ".join(f"{k} {v:,} (warning)" for k, v in f.warning_reasons.items())) if x
                )
            status = f.status if not f.message else f"{f.status}: {f.message}"
            t.add_row(
                f.file or f.name,
                f"{f.read:,}",
                f"{f.accepted:,}",
                f"{f.rejected:,}",
                f"{f.warnings:,}",
                reasons,
                status,
            )
        return t
