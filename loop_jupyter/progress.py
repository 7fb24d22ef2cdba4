"""Progress bars that work in a terminal and in a notebook (tqdm.auto picks the right one)."""

from __future__ import annotations

from typing import Any

_OFF = {"", "0", "false", "no", "off"}


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar: a widget in Jupyter, text in a terminal; silent when stderr is not a terminal.

    ``LOOP_JUPYTER_PROGRESS=1`` / ``=0`` forces bars on / off for this package; otherwise
    ``TQDM_DISABLE`` (tqdm's own switch, e.g. ``TQDM_DISABLE=1``) turns them off. A caller's
    ``disable=True`` always wins."""
    import os
    import sys

    from tqdm.auto import tqdm

    asked_off = bool(kwargs.pop("disable", False))  # popped first: `or` would skip it and pass it twice
    forced = os.environ.get("LOOP_JUPYTER_PROGRESS")
    if forced in ("0", "1"):
        disable = forced == "0"
    elif os.environ.get("TQDM_DISABLE", "").strip().lower() not in _OFF:
        disable = True
    else:
        disable = not ("ipykernel" in sys.modules or sys.stderr.isatty())
    return tqdm(disable=disable or asked_off, mininterval=0.5, **kwargs)
