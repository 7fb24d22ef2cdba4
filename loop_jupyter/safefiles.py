"""Writing files that never overwrite and never follow a planted symbolic link.

A file is written to a fresh temporary file in the destination's folder (``tempfile.mkstemp``:
a random name opened with ``O_CREAT | O_EXCL``, so nothing planted under a guessable name is
written through), flushed, then given its final name with ``os.link``, which fails when the name
exists, as a file or as a symbolic link (dangling or not): an existing file is never replaced and a
link is never followed. A destination that is a symbolic link is refused up front with a clear
error. An interrupted write leaves no partial file under the final name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class UnsafeDestination(FileExistsError):
    """The destination (or its folder) is a symbolic link: writing there could land anywhere."""


def refuse_symlink(path: Path, what: str = "destination") -> None:
    """Raise UnsafeDestination when ``path`` is a symbolic link (it is never followed)."""
    if path.is_symlink():
        raise UnsafeDestination(f"{path} is a symbolic link: refusing to write the {what} through it")


def write_temp(folder: Path, writer: Callable[[Path], None], *, prefix: str = ".tmp-") -> Path:
    """A new temporary file in ``folder`` holding what ``writer(path)`` wrote, flushed to disk.

    ``mkstemp`` creates it with a random name, O_EXCL and mode 0600 before anything is written,
    so no link can be planted under its name beforehand. Removed again when the writer fails.
    """
    handle, name = tempfile.mkstemp(prefix=prefix, dir=folder)
    os.close(handle)
    temp = Path(name)
    try:
        writer(temp)
        with open(temp, "rb+") as stream:
            os.fsync(stream.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def publish(temp: Path, final: Path) -> None:
    """Give ``temp`` the name ``final`` unless ``final`` exists in any form (FileExistsError).

    ``os.link`` never replaces and never follows a link at ``final``; on filesystems without hard
    links, an exclusive create (O_EXCL does not follow links either) claims the name first.
    ``temp`` is gone afterwards unless an error is raised (the caller removes it then).
    """
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        with open(final, "xb"):
            pass
        try:
            os.replace(temp, final)  # replaces our own empty placeholder only
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        return
    temp.unlink(missing_ok=True)


def write_new(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Write a new file at ``path`` atomically; FileExistsError if it exists (even as a link)."""
    path = Path(path)
    refuse_symlink(path)
    if path.exists():
        raise FileExistsError(f"{path} exists: choose a new name (saving never overwrites)")
    temp = write_temp(path.parent if str(path.parent) else Path("."), writer, prefix=f".{path.name[:40]}.tmp-")
    try:
        publish(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path
