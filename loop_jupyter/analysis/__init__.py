"""Analysis tools: one capability per module, each a ``@tool`` function."""
