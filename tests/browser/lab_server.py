"""JupyterLab for the browser tests: started on a free port with a token, in the test's own folders,
and stopped afterwards (shared by test_lab.py and test_xss.py)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_lab(root: Path, nb_dir: Path, env: dict[str, str], app: str = "lab") -> Iterator[tuple[str, str]]:
    """Run ``jupyter lab`` (or ``app="notebook"``: Notebook 7) on ``nb_dir`` until the block ends;
    yields (base URL, token). Its log is ``root/lab.log``."""
    port, token = free_port(), secrets.token_hex(16)
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed in the finally below
    command = [
        str(Path(sys.executable).parent / "jupyter"), app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nb_dir}", "--ServerApp.port_retries=0",
        "--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=nb_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer within 60 s")
            time.sleep(0.2)  # polling a server that is starting, not waiting on the page
        yield f"http://127.0.0.1:{port}", token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
