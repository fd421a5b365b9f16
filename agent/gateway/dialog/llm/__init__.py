"""The ``llm`` agent: any OpenAI-compatible chat completions server, streamed, with tools.

- :mod:`agent.gateway.dialog.llm.settings`: the ``dialog.llm`` section.
- :mod:`agent.gateway.dialog.llm.agent`: the agent (``create``), one turn's rounds.
- :mod:`agent.gateway.dialog.llm.client`: the ``openai`` SDK, one streamed request, faults.
- :mod:`agent.gateway.dialog.llm.speakable`: tokens to sentences, markdown stripped.
- :mod:`agent.gateway.dialog.llm.prompt`: the system prompt (date, time, location).
- :mod:`agent.gateway.dialog.llm.memory`: each device's conversation.
- :mod:`agent.gateway.dialog.llm.tools`: timers, the time, Home Assistant.

May import: :mod:`agent.gateway.dialog` (the agent interface, the timer skill's
naming), :mod:`agent.gateway.grammar`, :mod:`agent.common` and the ``openai`` package.
"""
