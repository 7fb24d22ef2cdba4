"""Which model specs may be used, where their requests may go, and which key goes with them.

The admin allow-list (``LOOP_JUPYTER_MODELS``, else ``models`` in the config file) binds every model
spec, wherever it is chosen (``Loop(model=...)``, ``loop.model = ...``, the CLI's ``--model``, the
chat widget's picker, ``%loop --model``, the config's ``default_model``). Its entries are:

- display names from the model table (``claude-4.5-sonnet``, ``gpt-5.1``, ``offline``);
- ``openai-compatible:<model>@<base url>``: that one model on that server;
- ``openai-compatible:*@<base url>``: any model on that server.

URLs are compared after normalising (scheme and host lower-cased, default port dropped, trailing
``/`` dropped); nothing else is fuzzy. ``offline`` is always allowed (it sends nothing anywhere).

Keys go only to their own provider: ``ANTHROPIC_API_KEY`` to Anthropic models, ``OPENAI_API_KEY`` to
OpenAI models, ``LOOP_JUPYTER_COMPATIBLE_API_KEY`` (or no key at all) to an OpenAI-compatible server.
Every SDK client is built with an explicit base URL, so the SDKs never pick one up from the
environment by themselves; ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL`` are honoured deliberately,
each for its own provider only (a gateway set in the same environment as the key), and never for a
compatible server. Redirects are not followed, and a request to any origin but the client's base
URL is refused before it is sent. Base URLs with credentials (``http://user:pass@host``), a query or
a fragment are refused: put a compatible server's key in ``LOOP_JUPYTER_COMPATIBLE_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

COMPATIBLE_PREFIX = "openai-compatible:"
COMPATIBLE_KEY_ENV = "LOOP_JUPYTER_COMPATIBLE_API_KEY"
#: What the OpenAI SDK is given when a compatible server gets no key (it insists on one); the
#: request guard removes the Authorization header it makes from it, so nothing is sent.
NO_KEY = "loop-jupyter-no-key"
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Headers a compatible server may receive; everything else the SDK adds from the environment
#: (OpenAI-Organization, OpenAI-Project, OPENAI_CUSTOM_HEADERS) is dropped.
_COMPATIBLE_HEADERS = {
    "accept",
    "accept-encoding",
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "host",
    "user-agent",
}


class PolicyError(ValueError):
    """A model spec or base URL that the policy refuses; ``kind`` is ``config`` or ``refused``."""

    def __init__(self, message: str, kind: str = "config") -> None:
        super().__init__(message)
        self.kind = kind


def check_base_url(url: str, *, what: str = "base URL") -> str:
    """The URL, normalised; a PolicyError for anything but a plain http(s) URL without credentials."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise PolicyError(f"{what} {text!r} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise PolicyError(f"{what} {text!r}: write http(s)://host[:port]/path")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise PolicyError(
            f"{what} {text!r} holds credentials (user:password@): they are refused; "
            f"put a compatible server's key in {COMPATIBLE_KEY_ENV}"
        )
    if parts.query or parts.fragment:
        raise PolicyError(f"{what} {text!r}: a base URL takes no query or fragment")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


@dataclass(frozen=True)
class CompatibleSpec:
    model: str
    url: str  # normalised


def parse_compatible(spec: str, *, base_url: str | None = None) -> CompatibleSpec:
    """``openai-compatible:<model>@<url>``; ``base_url`` only fills in a spec without a URL (a
    session's ``base_url=`` never moves a spec that names its server)."""
    body = spec[len(COMPATIBLE_PREFIX) :]
    model, _, url = body.partition("@")
    if not model or not (url or base_url):
        raise PolicyError(f"{spec!r}: write openai-compatible:<model>@<base url>")
    return CompatibleSpec(model, check_base_url(url or base_url or "", what=f"{spec!r}: the base URL"))


def allowed_by(entries: list[str], spec: str, *, base_url: str | None = None) -> bool:
    """Whether ``spec`` (a display name or a compatible spec) is on the allow-list ``entries``."""
    if not spec.startswith(COMPATIBLE_PREFIX):
        return spec in entries
    wanted = parse_compatible(spec, base_url=base_url)
    for entry in entries:
        if not entry.startswith(COMPATIBLE_PREFIX):
            continue
        try:
            listed = parse_compatible(entry)
        except PolicyError:
            continue  # a malformed entry allows nothing
        if listed.url == wanted.url and listed.model in ("*", wanted.model):
            return True
    return False


def pickable(entries: list[str]) -> list[str]:
    """Allow-list entries a user can pick as they are (wildcard entries name no model)."""
    return [
        e for e in entries if not (e.startswith(COMPATIBLE_PREFIX) and e[len(COMPATIBLE_PREFIX) :].startswith("*@"))
    ]


def refusal(spec: str, entries: list[str], source: str) -> PolicyError:
    listed = [e for e in entries if e != "offline"]
    return PolicyError(
        f"model {spec!r} is not allowed here: it is not on the admin allow-list ({source}); allowed: "
        f"{', '.join([*listed, 'offline'])}. An OpenAI-compatible server is allowed by listing openai-compatible:<model>@<url> "
        "or openai-compatible:*@<url>.",
        kind="refused",
    )


# -- keys and base URLs per provider -------------------------------------------------------------------
def provider_key(provider: str, explicit: str | None) -> str | None:
    """The key for ``provider``: the explicit one, else the provider's own variable (never another's)."""
    if explicit:
        return explicit
    variable = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}.get(provider, COMPATIBLE_KEY_ENV)
    return os.environ.get(variable) or None


def provider_base_url(provider: str, explicit: str | None) -> str:
    """The base URL a client is built with (always explicit, so the SDK reads no environment)."""
    if explicit:
        return check_base_url(explicit)
    if provider == "anthropic":
        env, default = "ANTHROPIC_BASE_URL", "https://api.anthropic.com"
    elif provider == "openai":
        env, default = "OPENAI_BASE_URL", "https://api.openai.com/v1"
    else:
        raise PolicyError("an OpenAI-compatible server needs its URL: openai-compatible:<model>@<base url>")
    value = os.environ.get(env)
    return check_base_url(value, what=env) if value and value.strip() else default


def request_guard(base_url: str, *, compatible: bool = False, key: str | None = None) -> Callable[[Any], None]:
    """An httpx request hook: refuse any request off the base URL's origin; for a compatible
    server, send only plain headers and its own key (or none)."""
    allowed_origin = origin(base_url)

    def guard(request: Any) -> None:
        if origin(str(request.url)) != allowed_origin:
            raise PolicyError(
                f"refused to send a request to {request.url.scheme}://{request.url.host}: the model client "
                f"for {base_url} talks to that origin only",
                kind="refused",
            )
        if not compatible:
            return
        for name in list(request.headers.keys()):
            lowered = name.lower()
            if lowered not in _COMPATIBLE_HEADERS and not lowered.startswith("x-stainless-"):
                del request.headers[name]
        if key:
            request.headers["Authorization"] = f"Bearer {key}"
        elif "authorization" in request.headers:
            del request.headers["authorization"]

    return guard


def http_client(sdk: Any, base_url: str, *, compatible: bool = False, key: str | None = None) -> Any:
    """The SDK's own httpx client class (its defaults kept), without redirects, with the guard."""
    return sdk.DefaultHttpxClient(
        follow_redirects=False,
        event_hooks={"request": [request_guard(base_url, compatible=compatible, key=key)]},
    )
