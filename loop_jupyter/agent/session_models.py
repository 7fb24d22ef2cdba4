"""The Loop's model choice: allowed models, the current one, and one SDK client per model.

A mixin so ``session.py`` keeps the run loop; it reads the attributes ``Loop.__init__`` sets.
"""

from __future__ import annotations

from collections.abc import Callable

from .judge import SessionModel
from .models import ChatClient, available_models, make_client, resolve


class SessionModels:
    """Models of a :class:`~loop_jupyter.agent.session.Loop`."""

    _model: str
    _initial_model: str
    _base_url: str | None
    _api_key: str | None
    _max_retries: int | None
    _timeout_s: float | None
    _injected_client: ChatClient | None
    _clients: dict[str, ChatClient | None]

    # -- models -------------------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Display names the admin allows, ``offline`` last."""
        return available_models()

    @property
    def model(self) -> str:
        return self._model

    @model.setter
    def model(self, name: str) -> None:
        resolve(name, base_url=self._base_url)
        self._model = name

    def _client(self, name: str) -> ChatClient | None:
        if self._injected_client is not None and name == self._injected_client.name:
            return self._injected_client
        if name not in self._clients:
            # The session's api_key= goes to first-party models, and to an OpenAI-compatible server
            # only when that server is the model the session was opened with: picking another
            # server in the menu never hands it a key meant for someone else.
            compatible = name.startswith("openai-compatible:")
            self._clients[name] = make_client(
                name,
                base_url=self._base_url,
                api_key=self._api_key if not compatible or name == self._initial_model else None,
                max_retries=self._max_retries,
                timeout_s=self._timeout_s,
            )
        return self._clients[name]

    def _llm_for(self, client: ChatClient) -> Callable[[str], str]:
        # Callable with a prompt (text back); its .choose(prompt, choices) asks for a structured choice.
        return SessionModel(client)
