"""The ``llm`` agent: any OpenAI-compatible chat completions server, streamed, with tools.

- :mod:`agent.gateway.dialog.llm.settings`: the ``dialog.llm`` section.

May import: :mod:`agent.gateway.dialog` (the agent interface), :mod:`agent.gateway.grammar`,
:mod:`agent.common` and the ``openai`` package.
"""
