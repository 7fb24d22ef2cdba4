"""The admin allow-list binds every model spec, and a key goes only to its own provider (issue 12,
finding 5): compatible servers by URL, their own key variable, no redirects, no credentials in URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent import models
from loop_jupyter.agent.models import ModelError, make_client, resolve
from loop_jupyter.agent.session import Loop
from tests.agent_fixtures import build_logs
from tests.fake_llm import FakeLLM, reply

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]
SECRET = "sk-real-secret"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=5)


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


@pytest.fixture
def real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine has real first-party keys (and org/project/custom headers) set."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-real-secret")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-real")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-real")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Secret-Header: sk-custom-secret")


def _sent(fake: FakeLLM) -> str:
    return json.dumps([r["headers"] for r in fake.requests])


def _ask_compatible(fake: FakeLLM, spec: str | None = None) -> str:
    fake.script(reply("hello"))
    client = make_client(spec or f"openai-compatible:llama3@{fake.openai_url}", max_retries=0)
    return client.complete("system", [{"role": "user", "content": "hi"}], []).text


# -- keys -----------------------------------------------------------------------------------------------
def test_compatible_server_never_gets_first_party_keys(fake: FakeLLM, real_keys: None) -> None:
    assert _ask_compatible(fake) == "hello"
    headers = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    sent = _sent(fake)
    for secret in (SECRET, "sk-ant-real-secret", "sk-custom-secret", "org-real", "proj-real"):
        assert secret not in sent
    assert "authorization" not in headers  # no key of its own: nothing at all
    assert "x-api-key" not in headers


def test_compatible_server_gets_its_own_key(fake: FakeLLM, real_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_JUPYTER_COMPATIBLE_API_KEY", "sk-compat")
    assert _ask_compatible(fake) == "hello"
    headers = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer sk-compat"
    assert SECRET not in _sent(fake)


def test_compatible_key_through_the_loop(
    logs: pl.DataFrame, fake: FakeLLM, real_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_JUPYTER_COMPATIBLE_API_KEY", "sk-compat")
    fake.script(reply("Five traces."))
    with Loop(logs, f"openai-compatible:qwen@{fake.openai_url}", max_retries=0) as loop:
        assert loop.ask("how many traces?").text == "Five traces."
    sent = [{k.lower(): v for k, v in r["headers"].items()} for r in fake.requests]
    assert {h.get("authorization") for h in sent} == {"Bearer sk-compat"}


def test_first_party_keys_stay_with_their_provider(fake: FakeLLM, real_keys: None) -> None:
    """OPENAI_API_KEY goes to an OpenAI model, and never the Anthropic key (nor the reverse)."""
    fake.script(reply("a"), reply("b"))
    openai_client = models.OpenAIClient("gpt-x", base_url=fake.openai_url, max_retries=0)
    openai_client.complete("s", [{"role": "user", "content": "hi"}], [])
    anthropic_client = models.AnthropicClient("claude-x", base_url=fake.url, max_retries=0)
    anthropic_client.complete("s", [{"role": "user", "content": "hi"}], [])
    first, second = ({k.lower(): v for k, v in r["headers"].items()} for r in fake.requests)
    assert first["authorization"] == f"Bearer {SECRET}" and "sk-ant-real-secret" not in json.dumps(first)
    assert SECRET not in json.dumps(second) and "sk-ant-real-secret" in json.dumps(second)


# -- base URLs from the environment -----------------------------------------------------------------------
def test_env_base_urls_bind_their_own_provider_only(
    fake: FakeLLM, real_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeLLM() as elsewhere:
        monkeypatch.setenv("OPENAI_BASE_URL", elsewhere.openai_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", elsewhere.url)
        assert _ask_compatible(fake) == "hello"  # the spec's URL, not OPENAI_BASE_URL
        assert elsewhere.requests == []
        # Honoured, deliberately, for its own provider: a gateway set beside the key.
        elsewhere.script(reply("via gateway"))
        client = make_client("claude-4.5-sonnet", max_retries=0)
        assert client.complete("s", [{"role": "user", "content": "hi"}], []).text == "via gateway"
        assert "sk-ant-real-secret" in json.dumps(elsewhere.requests[0]["headers"])


def test_env_base_url_with_credentials_is_refused(real_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    with pytest.raises(ModelError, match="credentials"):
        make_client("gpt-5.1")


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@127.0.0.1:11434/v1",  # credentials in the URL
        "http://127.0.0.1:11434@evil.example/v1",  # looks like the allowed host, is not
        "ftp://127.0.0.1/v1",
        "http://127.0.0.1:11434/v1?key=1",
    ],
)
def test_malformed_or_credentialed_urls_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_JUPYTER_MODELS", "openai-compatible:*@http://127.0.0.1:11434/v1")
    with pytest.raises(ModelError):
        resolve(f"openai-compatible:llama3@{url}")
    monkeypatch.delenv("LOOP_JUPYTER_MODELS")
    with pytest.raises(ModelError):  # refused without an allow-list too
        resolve(f"openai-compatible:llama3@{url}")


# -- redirects ----------------------------------------------------------------------------------------------
class _Redirector:
    """Answers every POST with 307 to ``target`` (another origin)."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "openai-compatible"])
def test_redirects_are_not_followed(fake: FakeLLM, provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_JUPYTER_COMPATIBLE_API_KEY", "sk-compat")
    fake.script(reply("should not be reached"))
    redirector = _Redirector(fake.url)
    try:
        if provider == "anthropic":
            client: Any = models.AnthropicClient("claude-x", api_key=SECRET, base_url=redirector.url, max_retries=0)
        else:
            client = models.OpenAIClient(
                "gpt-x",
                api_key=SECRET if provider == "openai" else None,
                base_url=redirector.url + "/v1",
                max_retries=0,
                compatible=provider == "openai-compatible",
            )
        with pytest.raises(ModelError):
            client.complete("s", [{"role": "user", "content": "hi"}], [])
    finally:
        redirector.close()
    assert fake.requests == []


# -- the allow-list binds every spec, everywhere ------------------------------------------------------------
def test_offline_allow_list_refuses_compatible_spec_in_python(
    logs: pl.DataFrame, fake: FakeLLM, real_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_JUPYTER_MODELS", "offline")
    spec = f"openai-compatible:m@{fake.openai_url}"
    with pytest.raises(ModelError, match="LOOP_JUPYTER_MODELS") as refused:
        Loop(logs, model=spec)
    assert refused.value.kind == "refused" and "allow-list" in str(refused.value)
    with pytest.raises(ModelError, match="allow-list"):
        make_client(spec)
    with Loop(logs, model="offline") as loop:
        with pytest.raises(ModelError, match="allow-list"):
            loop.model = spec
        assert loop.model == "offline"
    # A base_url= beside an allowed-looking spec cannot smuggle a server in either.
    with pytest.raises(ModelError, match="allow-list"):
        Loop(logs, model="openai-compatible:m", base_url=fake.openai_url)
    assert fake.requests == []


def test_offline_allow_list_refuses_compatible_spec_in_the_widget(
    logs: pl.DataFrame, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loop_jupyter.widgets.chat import ChatWidget

    monkeypatch.setenv("LOOP_JUPYTER_MODELS", "offline")
    spec = f"openai-compatible:m@{fake.openai_url}"
    with Loop(logs, model="offline") as loop:
        chat = ChatWidget(loop)
        try:
            assert chat.models == ["offline"]
            with pytest.raises(ModelError, match="allow-list"):
                chat.model = spec  # what the picker would send
            assert loop.model == "offline"
        finally:
            chat.close()


def test_offline_allow_list_refuses_compatible_spec_in_the_cli(fake: FakeLLM, tmp_path: Path) -> None:
    spec = f"openai-compatible:m@{fake.openai_url}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        LOOP_JUPYTER_MODELS="offline",
        OPENAI_API_KEY=SECRET,
        LOOP_JUPYTER_CONFIG=str(tmp_path / "none.toml"),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "loop_jupyter", "ask", "how many traces?", "--model", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "not on the admin allow-list (LOOP_JUPYTER_MODELS)" in done.stderr
    assert "Traceback" not in done.stderr
    assert fake.requests == []


def test_allowed_compatible_endpoints_by_url(
    logs: pl.DataFrame, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any model on the listed server (URL compared normalised: case, trailing slash).
    upper = fake.openai_url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "/"
    monkeypatch.setenv("LOOP_JUPYTER_MODELS", f"claude-4.5-haiku,openai-compatible:*@{upper}")
    fake.script(reply("Five."))
    with Loop(logs, f"openai-compatible:whatever@{fake.openai_url}", max_retries=0) as loop:
        assert loop.ask("how many traces?").text == "Five."
    assert models.available_models() == ["claude-4.5-haiku", "offline"]  # a wildcard names no model
    with pytest.raises(ModelError, match="allow-list"):  # another port is another server
        resolve("openai-compatible:whatever@http://127.0.0.1:1/v1")
    # One model on one server: listed in the picker, other models on that server refused.
    monkeypatch.setenv("LOOP_JUPYTER_MODELS", f"openai-compatible:llama3@{fake.openai_url}")
    assert models.available_models() == [f"openai-compatible:llama3@{fake.openai_url}", "offline"]
    assert resolve(f"openai-compatible:llama3@{fake.openai_url}").api_id == "llama3"
    with pytest.raises(ModelError, match="allow-list"):
        resolve(f"openai-compatible:qwen@{fake.openai_url}")
    with pytest.raises(ModelError, match="allow-list"):
        resolve("claude-4.5-haiku")


def test_config_file_allow_list_binds_compatible_specs(
    fake: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'models = ["gpt-5.1", "openai-compatible:llama3@{fake.openai_url}"]\n')
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(config))
    assert resolve(f"openai-compatible:llama3@{fake.openai_url}").base_url == fake.openai_url
    with pytest.raises(ModelError, match=r"models in .*config\.toml"):
        resolve("openai-compatible:llama3@http://127.0.0.1:2/v1")
    # default_model from the config is bound too: a refused default falls back to offline.
    config.write_text('models = ["gpt-5.1"]\ndefault_model = "openai-compatible:m@http://127.0.0.1:3/v1"\n')
    assert models.default_model() == "offline"


def test_session_key_does_not_follow_a_switch_to_a_compatible_server(
    logs: pl.DataFrame, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loop(api_key=...) meant for Claude; the user then picks an allowed compatible server."""
    with FakeLLM() as local:
        spec = f"openai-compatible:llama3@{local.openai_url}"
        monkeypatch.setenv("LOOP_JUPYTER_MODELS", f"claude-4.5-sonnet,{spec}")
        fake.script(reply("from claude"))
        local.script(reply("from llama"))
        with Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="sk-ant-explicit", max_retries=0) as loop:
            assert loop.ask("hi").text == "from claude"
            loop.model = spec
            assert loop.ask("hi again").text == "from llama"
        assert "sk-ant-explicit" in _sent(fake)
        assert "sk-ant-explicit" not in _sent(local) and local.requests
