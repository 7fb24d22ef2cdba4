"""Scorer files: where a saved scorer is found, which files a model may run, and their hashes.

From Python the notebook user may name any saved scorer file. A model (``called_by_model``) names a
scorer inside ``ctx.scorers_dir`` only, and runs without a new confirmation only the files whose
SHA-256 this session recorded with :func:`trust` (written, or confirmed to run, by the person).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import uuid
from pathlib import Path
from typing import Any

from ..tools import ToolContext
from ._versioned import check_name, pick_version, versions

#: ``ctx.cache`` key of {resolved path: SHA-256} of the scorer files this session may run when a
#: model asks (written on the person's confirmation, or confirmed to run).
TRUSTED = "trusted_scorers"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trust(ctx: ToolContext, path: Path, digest: str) -> None:
    ctx.cache.setdefault(TRUSTED, {})[str(Path(path).resolve())] = digest


def _looks_like_path(value: str) -> bool:
    return value.endswith(".py") or any(sep in value for sep in ("/", "\\", ":")) or value.startswith(("~", "."))


def locate_for_model(ctx: ToolContext, name: str | None, version: int | None) -> Path:
    """The saved scorer a model asked for: by name (or the latest), only inside ``ctx.scorers_dir``."""
    if name and _looks_like_path(str(name)):
        raise ValueError(
            f"{str(name)[:200]!r} is a path: the assistant may only run a scorer saved in {ctx.scorers_dir}, by "
            "its name. To run a scorer file from elsewhere, call run_scorer(logs, path) from Python."
        )
    path = resolve_scorer(name, ctx.scorers_dir, version) if name else latest_scorer(ctx.scorers_dir)
    if not path.resolve().is_relative_to(ctx.scorers_dir.resolve()):  # a symlink out of the folder
        raise ValueError(f"scorer {path.parent.name!r} leads outside {ctx.scorers_dir}; not run")
    return path


def resolve_scorer(name_or_path: str | Path, scorers_dir: Path, version: int | None = None) -> Path:
    """The saved scorer file for a name (latest version unless given) or a path to a ``.py``."""
    path = Path(name_or_path)
    if path.suffix == ".py":
        if not path.is_file():
            raise FileNotFoundError(f"no scorer file {path}")
        # Loading a scorer runs its code, and a model may pass any path it read in the logs: only
        # files saved by a confirmed create_scorer (v<N>.py beside its v<N>.json) are scorers.
        if not (re.fullmatch(r"v\d+\.py", path.name) and path.with_suffix(".json").is_file()):
            raise FileNotFoundError(f"{path} is not a saved scorer (v<N>.py with its v<N>.json, from create_scorer)")
        return path
    folder = scorers_dir / check_name(str(name_or_path))
    found = versions(folder, "py")
    if not found:
        raise FileNotFoundError(f"no saved scorer {str(name_or_path)!r} in {scorers_dir} (confirm it first)")
    version = pick_version(found, version, f"scorer {str(name_or_path)!r}")
    return folder / f"v{version}.py"


def latest_scorer(scorers_dir: Path) -> Path:
    """The most recently saved scorer file under ``scorers_dir``."""
    files = (
        [p for p in scorers_dir.glob("*/v*.py") if re.fullmatch(r"v\d+\.py", p.name)] if scorers_dir.is_dir() else []
    )
    if not files:
        raise FileNotFoundError(f"no saved scorers in {scorers_dir} (create one and confirm it first)")
    return max(files, key=lambda p: (p.stat().st_mtime_ns, p.parent.name, int(p.stem[1:])))


def load_scorer(path: Path) -> Any:
    """Import a saved scorer file as a module (runs its code: only for saved, confirmed files)."""
    spec = importlib.util.spec_from_file_location(f"loop_scorer_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "score", None)):
        raise ImportError(f"{path} defines no score(input, output, expected, metadata) function")
    return module
