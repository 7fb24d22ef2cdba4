"""Versioned files that are never overwritten: ``<folder>/<name>/v<N>.<ext>``.

A version is written to a temporary file in the same folder, flushed, then hard-linked to its
final name: ``os.link`` fails when the name exists, so two writers racing for the same version
never overwrite each other (the loser takes the next version), and an interrupted write leaves
no partial file under a version's name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..safefiles import publish, refuse_symlink, write_temp

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_VERSION = re.compile(r"^v(\d+)\.(\w+)$")


def check_name(name: str) -> str:
    """A dataset or scorer name: letters, digits, ``_ . -``; no path separators."""
    name = (name or "").strip()
    if not _NAME.match(name) or name in {".", ".."} or ".." in name:
        raise ValueError(f"invalid name {name!r}: use letters, digits, '_', '-' or '.' (at most 100)")
    return name


def versions(folder: Path, ext: str) -> list[int]:
    """Existing versions in ``folder`` with extension ``ext``, ascending."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _VERSION.match(path.name)
        if match and match.group(2) == ext:
            found.append(int(match.group(1)))
    return sorted(found)


def next_version(folder: Path, ext: str) -> int:
    existing = versions(folder, ext)
    return existing[-1] + 1 if existing else 1


def propose_version(proposals: list[tuple[Path, int, Any]], folder: Path, ext: str) -> int:
    """The version a new proposal for ``folder`` previews: past the saved versions and past every
    proposal still waiting for confirmation (``proposals`` holds ``(folder, version, pending)``;
    a pending whose ``status`` is no longer "pending" frees its version)."""
    waiting = [v for f, v, pending in proposals if f == folder and getattr(pending, "status", "") == "pending"]
    return max([*versions(folder, ext), *waiting], default=0) + 1


def pick_version(found: list[int], version: int | None, label: str) -> int:
    """``version`` if it is one of ``found`` (the latest when None); else FileNotFoundError naming ``label``."""
    if version is None:
        return found[-1]
    if version not in found:
        raise FileNotFoundError(f"{label} has no version {version} (has {found})")
    return version


def json_companion(info: Callable[[int], dict]) -> Callable[[int, Path], None]:
    """A companion writer for :func:`write_version`: ``info(version)`` as indented JSON."""

    def write(version: int, path: Path) -> None:
        path.write_text(json.dumps(info(version), indent=2) + "\n", encoding="utf-8")

    return write


def _temp(folder: Path, writer: Callable[[Path], None]) -> Path:
    return write_temp(folder, writer)


def _publish(temp: Path, final: Path) -> None:
    """Give ``temp`` the name ``final`` unless it exists (FileExistsError); never overwrites."""
    publish(temp, final)


def write_version(
    folder: Path,
    main_ext: str,
    write_main: Callable[[Path], None],
    extras: dict[str, Callable[[int, Path], None]] | None = None,
    *,
    preferred: int | None = None,
) -> tuple[int, Path]:
    """Write the next version of a versioned file (plus companion files of the same version).

    ``write_main(path)`` writes the main file; ``extras[ext](version, path)`` each companion
    (written after the version number is taken, so it can record it). ``preferred`` (the version
    a confirmation showed) is taken when still free, else the next free one. Returns (version, path).
    """
    refuse_symlink(folder, "versions")
    folder.mkdir(parents=True, exist_ok=True)
    refuse_symlink(folder, "versions")
    temp = _temp(folder, write_main)
    try:
        for attempt in range(1000):
            version = preferred if attempt == 0 and preferred else next_version(folder, main_ext)
            while any(os.path.lexists(folder / f"v{version}.{ext}") for ext in extras or {}):
                version += 1  # a file (or link) already holds a companion's name: never write over it
            final = folder / f"v{version}.{main_ext}"
            try:
                _publish(temp, final)
                break
            except FileExistsError:
                continue  # another writer took this version: take the next one
        else:  # pragma: no cover - a thousand concurrent writers
            raise OSError(f"could not claim a new version in {folder}")
    finally:
        temp.unlink(missing_ok=True)
    for ext, writer in (extras or {}).items():
        companion = folder / f"v{version}.{ext}"
        extra_temp = _temp(folder, lambda path, writer=writer: writer(version, path))
        try:
            _publish(extra_temp, companion)  # never over a file or link someone put there
        finally:
            extra_temp.unlink(missing_ok=True)
    return version, final
