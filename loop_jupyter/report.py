"""The load report: what was read, what loaded, and every line that did not, with its reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class LoadError(ValueError):
    """Raised for unreadable sources, unknown formats, and (with ``strict=True``) the first bad line."""


@dataclass(frozen=True)
class Problem:
    """One skipped record or one warning, located in its source."""

    line: int | None
    reason: str
    source: str = ""
    excerpt: str = ""

    def __str__(self) -> str:
        if self.source:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
        else:
            where = f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class LoadReport:
    """Lines (records) read, rows loaded, and every skipped record with its line and reason.

    ``records_read == rows_loaded + len(skipped)`` always holds for record-oriented formats;
    warnings describe rows that loaded but with something worth knowing (a missing parent, a cycle,
    a field that could not be mapped).
    """

    format: str = ""
    sources: list[str] = field(default_factory=list)
    records_read: int = 0
    rows_loaded: int = 0
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    strict: bool = False

    def skip(self, line: int | None, reason: str, *, source: str = "", excerpt: str = "") -> None:
        """Record a record that could not be loaded; raises at once when strict."""
        problem = Problem(line, reason, source, excerpt[:200])
        if self.strict:
            raise LoadError(str(problem))
        self.skipped.append(problem)

    def warn(self, line: int | None, reason: str, *, source: str = "") -> None:
        """Record something worth knowing about a row that did load."""
        problem = Problem(line, reason, source)
        if self.strict:
            raise LoadError(str(problem))
        self.warnings.append(problem)

    def note_unmapped(self, key: str, count: int = 1) -> None:
        """Count a source field that was kept only in metadata (or dropped) because nothing maps it."""
        self.unmapped[key] += count

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        """Rich display: the summary and the first problems, escaped (excerpts are log text)."""
        from .render import report_bundle

        return report_bundle(self)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def merge(self, other: LoadReport) -> None:
        """Add another report's counts and problems to this one (loading several files)."""
        self.sources.extend(other.sources)
        self.records_read += other.records_read
        self.rows_loaded += other.rows_loaded
        self.skipped.extend(other.skipped)
        self.warnings.extend(other.warnings)
        self.unmapped.update(other.unmapped)

    def summary(self) -> str:
        parts = [
            f"{self.format or 'logs'}: read {self.records_read:,} records, "
            f"loaded {self.rows_loaded:,} spans, skipped {len(self.skipped):,}"
        ]
        if self.warnings:
            parts.append(f"{len(self.warnings):,} warnings")
        text = ", ".join(parts)
        for problem in self.skipped[:10]:
            text += f"\n  skipped {problem}"
        if len(self.skipped) > 10:
            text += f"\n  ... and {len(self.skipped) - 10:,} more (see report.skipped)"
        for problem in self.warnings[:5]:
            text += f"\n  warning {problem}"
        if len(self.warnings) > 5:
            text += f"\n  ... and {len(self.warnings) - 5:,} more warnings (see report.warnings)"
        return text

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "sources": self.sources,
            "records_read": self.records_read,
            "rows_loaded": self.rows_loaded,
            "skipped": [vars(p) for p in self.skipped],
            "warnings": [vars(p) for p in self.warnings],
            "unmapped": dict(self.unmapped),
        }
