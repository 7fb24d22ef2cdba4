"""Progress bars that work in a terminal and in a notebook (tqdm.auto picks the right one)."""

from __future__ import annotations

from typing import Any


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar: a widget in Jupyter, text in a terminal; silent when stderr is not a terminal
    unless ``LOOP_JUPYTER_PROGRESS=1``."""
    import os
    import sys

    from tqdm.auto import tqdm

    asked_off = bool(kwargs.pop("disable", False))  # popped first: `or` would skip it and pass it twice
    forced = os.environ.get("LOOP_JUPYTER_PROGRESS")
    in_notebook = "ipykernel" in sys.modules
    disable = not (forced == "1" or in_notebook or sys.stderr.isatty()) or forced == "0"
    return tqdm(disable=disable or asked_off, mininterval=0.5, **kwargs)
