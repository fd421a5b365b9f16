"""The ``home_assistant`` agent: Home Assistant's conversation API over its WebSocket API.

- :mod:`agent.gateway.dialog.home_assistant.settings`: the ``dialog.home_assistant`` section.

May import: :mod:`agent.gateway.dialog` (the agent interface), :mod:`agent.gateway.grammar`,
:mod:`agent.common` and ``websockets``.
"""
