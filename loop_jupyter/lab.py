"""``loop-jupyter lab``: JupyterLab on the user's copy of the quickstart notebook.

The shipped notebooks (package data in a wheel, ``notebooks/`` in a checkout) are copied into a
work folder, never over the user's edits: ``--dir DIR``, by default the platform's data folder
(``loop_jupyter.paths.notebooks_dir``). Extra arguments after ``--`` go to JupyterLab unchanged.
Run as root (containers, CI), ``--allow-root`` is passed, and said so on stderr.

``--check`` is the headless form for CI and machines without a browser: JupyterLab starts on a free
port without a browser, the check waits until the server serves the quickstart notebook through its
contents API, then stops it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .paths import notebooks_dir, shipped_notebooks

NOTEBOOK = "quickstart.ipynb"
INSTALL_HINT = "pip install 'loop_jupyter[lab]'"


def add_lab_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the quickstart notebook (demo logs)",
        description="Open JupyterLab on a copy of the quickstart notebook. Arguments after -- go to JupyterLab: "
        "loop-jupyter lab -- --no-browser --ServerApp.ip=0.0.0.0",
    )
    lab.add_argument("--port", type=int, default=None, help="port (default: JupyterLab's, 8888 or the next free)")
    lab.add_argument(
        "--dir",
        default=None,
        help=f"work folder for the notebook copies (default: {notebooks_dir()}); existing copies are kept",
    )
    lab.add_argument(
        "--check",
        action="store_true",
        help="headless: start JupyterLab, wait until it serves the quickstart, stop it (CI, no browser)",
    )
    lab.add_argument("--timeout", type=float, default=120.0, help="seconds --check waits for the server")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="after --: arguments for JupyterLab")
    lab.set_defaults(run=cmd_lab)


def copy_notebooks(workdir: Path) -> list[Path]:
    """Copy the shipped notebooks into ``workdir`` where no copy exists yet; the copies there, sorted."""
    source = shipped_notebooks()
    workdir.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(source.glob("*.ipynb")):
        target = workdir / notebook.name
        if not target.exists():
            shutil.copyfile(notebook, target)
    return sorted(workdir.glob("*.ipynb"))


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(workdir: Path, port: int | None, extra: Sequence[str], *, root: bool) -> list[str]:
    """The JupyterLab command line: root folder, the quickstart to open, the user's extra arguments."""
    extra = list(extra)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={workdir}"]
    if port is not None:
        command.append(f"--port={port}")
    if root and not any(arg.startswith(("--allow-root", "--ServerApp.allow_root")) for arg in extra):
        command.append("--allow-root")
    return [*command, *extra, str(workdir / NOTEBOOK)]


def jupyterlab_installed() -> bool:
    return importlib.util.find_spec("jupyterlab") is not None


def cmd_lab(args: argparse.Namespace) -> int:
    if not jupyterlab_installed():
        print(
            f"JupyterLab is not installed in {sys.executable}: install the [lab] extra, {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    if not (shipped_notebooks() / NOTEBOOK).is_file():
        print(f"the quickstart notebook is missing from {shipped_notebooks()}: reinstall loop_jupyter", file=sys.stderr)
        return 1
    workdir = Path(args.dir).expanduser().resolve() if args.dir else notebooks_dir()
    copy_notebooks(workdir)
    root = is_root()
    if root:
        print("running as root: passing --allow-root to JupyterLab", file=sys.stderr)
    print(f"notebooks in {workdir}", file=sys.stderr)
    if args.check:
        return check_lab(workdir, args.jupyter_args, root=root, timeout=args.timeout)
    command = lab_command(workdir, args.port, args.jupyter_args, root=root)
    print("starting JupyterLab:", " ".join(command), file=sys.stderr)
    return subprocess.call(command)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def check_lab(workdir: Path, extra: Sequence[str], *, root: bool, timeout: float = 120.0) -> int:
    """Start JupyterLab headless on a free port, wait until it serves the quickstart (contents API and
    the lab page), stop it. 0 when served, 1 otherwise (with the server's log tail)."""
    port = free_port()
    token = secrets.token_hex(16)
    headless = ["--no-browser", f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1"]
    command = lab_command(workdir, port, [*headless, *[a for a in extra if a != "--"]], root=root)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            served = _wait_for_notebook(server, base, token, started + timeout)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        elapsed = time.monotonic() - started
        if served is None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            print(f"JupyterLab did not serve {NOTEBOOK} within {timeout:.0f} s:\n{tail}", file=sys.stderr)
            return 1
    print(
        f"JupyterLab served {NOTEBOOK} ({served} cells) at {base}/lab/tree/{NOTEBOOK} in {elapsed:.1f} s, then stopped"
    )
    return 0


def _wait_for_notebook(server: subprocess.Popen[bytes], base: str, token: str, deadline: float) -> int | None:
    """The quickstart's cell count once the contents API returns it and the lab page loads; None on
    timeout or when the server exits."""
    while time.monotonic() < deadline and server.poll() is None:
        status, body = _get(f"{base}/api/contents/{NOTEBOOK}?content=1", token)
        if status == 200:
            model = json.loads(body)
            cells = (model.get("content") or {}).get("cells") or []
            page_status, page = _get(f"{base}/lab/tree/{NOTEBOOK}", token)
            if model.get("type") == "notebook" and cells and page_status == 200 and b"jupyter-config-data" in page:
                return len(cells)
            return None
        time.sleep(0.5)
    return None
