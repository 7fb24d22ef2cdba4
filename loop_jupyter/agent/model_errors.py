"""Model errors: :class:`ModelError` and the helpers that turn an SDK's failure into one.

Retries: the SDKs retry 408/409/429/5xx (529 included) and connection errors, honouring
``retry-after``, ``max_retries`` times; what still fails becomes a :class:`ModelError` with a plain
message (:func:`_sdk_errors` around a streamed request). Re-exported by :mod:`.models`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import model_policy as policy


class ModelError(RuntimeError):
    """A model API failure after retries, with a message fit for the chat."""

    def __init__(self, message: str, *, kind: str = "api", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def _describe_error(exc: Exception, provider: str, retries: int, model: str = "") -> ModelError:
    """A plain message for an SDK exception (after the SDK's own retries)."""
    if isinstance(exc.__cause__, policy.PolicyError):
        return ModelError(str(exc.__cause__), kind=exc.__cause__.kind)
    status = getattr(exc, "status_code", None)
    after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    label = {"anthropic": "Anthropic", "openai": "OpenAI"}.get(provider, "The model server")
    name = type(exc).__name__
    if status == 429:
        return ModelError(f"{label} rate limit (429){after}: try again shortly.", kind="rate_limit", status=429)
    if status == 529 or "Overloaded" in name:
        return ModelError(f"{label} is overloaded (529){after}: try again shortly.", kind="overloaded", status=529)
    if status in (401, 403):
        return ModelError(f"{label} refused the API key ({status}): check it.", kind="auth", status=status)
    if status == 404 and model:
        # A retired or misspelled model id: say which id, and where the display name maps to it.
        return ModelError(
            f"{label} does not serve the model {model!r} (404): it may be retired or not enabled for this key. "
            "Choose another model (`--model NAME`, `Loop(logs, model=...)`), or map the display name to a "
            "current id under [model_ids] in the config file.",
            kind="model",
            status=404,
        )
    if status is not None and status >= 500:
        return ModelError(f"{label} server error ({status}){after}.", kind="server", status=status)
    if "Timeout" in name:
        return ModelError(f"{label} did not answer in time{after}.", kind="timeout")
    if "Connection" in name:
        hint = " (no network here? `--model offline` or `Loop(logs, model='offline')` answers without one)"
        return ModelError(f"Lost the connection to {label}{after}: {exc}{hint}", kind="connection")
    message = getattr(exc, "message", None) or str(exc)
    return ModelError(f"{label} error{f' ({status})' if status else ''}: {message}", kind="api", status=status)


def _transport_error(exc: Exception, label: str) -> Exception:
    """A dropped stream surfaces as the HTTP library's own error, not the SDK's: name it plainly."""
    module = type(exc).__module__
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, OSError):
        return ModelError(
            f"The connection to {label} dropped mid-answer ({type(exc).__name__}); ask again.", kind="connection"
        )
    return exc


@contextmanager
def _sdk_errors(
    api_error: type[Exception], provider: str, retries: int, label: str, *, model: str = "", malformed: bool = False
) -> Iterator[None]:
    """Turn what a streamed request raises into a ModelError: the SDK's own errors, then (with
    ``malformed``) a response the SDK could not parse, then a dropped transport."""
    try:
        yield
    except api_error as exc:
        raise _describe_error(exc, provider, retries, model) from exc
    except ValueError as exc:
        if not malformed:
            raise _transport_error(exc, label) from exc
        raise ModelError(f"{label} sent a malformed response: {exc}", kind="malformed") from exc
    except Exception as exc:
        raise _transport_error(exc, label) from exc
