"""Where loop_jupyter keeps its config file, caches and the user's working notebooks.

The platform's conventions via platformdirs (XDG on Linux, ``~/Library`` on macOS, ``%APPDATA%`` /
``%LOCALAPPDATA%`` on Windows), each overridable by an environment variable:

==========  ===========================================  ==========================================
what        default (Linux; macOS; Windows)              override
==========  ===========================================  ==========================================
config      ``$XDG_CONFIG_HOME/loop_jupyter/config.toml``  ``LOOP_JUPYTER_CONFIG`` (a file)
            ``~/Library/Application Support/loop_jupyter/config.toml``
            ``%APPDATA%\\loop_jupyter\\config.toml``
cache       ``$XDG_CACHE_HOME/loop_jupyter``              ``LOOP_JUPYTER_CACHE`` (a folder)
            ``~/Library/Caches/loop_jupyter``; ``%LOCALAPPDATA%\\loop_jupyter\\Cache``
notebooks   ``$XDG_DATA_HOME/loop_jupyter/notebooks``     ``loop-jupyter lab --dir DIR``
==========  ===========================================  ==========================================

Before 0.1 the config file and cache were always ``~/.config/loop_jupyter/config.toml`` and
``~/.cache/loop_jupyter``; where those differ from the platform's place (macOS, Windows, a custom
``XDG_*_HOME``) and exist while the new place does not, they are still read.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "loop_jupyter"


def _legacy_config() -> Path:
    return Path.home() / ".config" / APP / "config.toml"


def _legacy_cache() -> Path:
    return Path.home() / ".cache" / APP


def config_path() -> Path:
    """The TOML config file (it need not exist): ``LOOP_JUPYTER_CONFIG``, else the platform's config folder."""
    env = os.environ.get("LOOP_JUPYTER_CONFIG")
    if env:
        return Path(env).expanduser()
    path = platformdirs.user_config_path(APP, appauthor=False, roaming=True) / "config.toml"
    legacy = _legacy_config()
    if not path.exists() and legacy.is_file():
        return legacy
    return path


def cache_dir() -> Path:
    """The cache folder (model tokenizer files, similar-traces indexes): ``LOOP_JUPYTER_CACHE``, else the
    platform's cache folder."""
    env = os.environ.get("LOOP_JUPYTER_CACHE")
    if env:
        return Path(env).expanduser()
    path = platformdirs.user_cache_path(APP, appauthor=False)
    legacy = _legacy_cache()
    if not path.exists() and legacy.is_dir():
        return legacy
    return path


def notebooks_dir() -> Path:
    """Where ``loop-jupyter lab`` puts the user's copies of the shipped notebooks by default."""
    return platformdirs.user_data_path(APP, appauthor=False) / "notebooks"


def shipped_notebooks() -> Path:
    """The notebooks shipped with the package: inside the installed wheel, or the checkout's ``notebooks/``
    (a source checkout or an editable install: one copy, the one nbval tests)."""
    here = Path(__file__).resolve().parent
    packaged = here / "notebooks"
    if (packaged / "quickstart.ipynb").is_file():
        return packaged
    return here.parent / "notebooks"


if __name__ == "__main__":  # python -m loop_jupyter.paths
    print(f"config     {config_path()}")
    print(f"cache      {cache_dir()}")
    print(f"notebooks  {notebooks_dir()} (copies; shipped: {shipped_notebooks()})")
