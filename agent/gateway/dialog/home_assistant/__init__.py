"""The ``home_assistant`` agent: Home Assistant's conversation API over its WebSocket API.

- :mod:`.settings`: the ``dialog.home_assistant`` section;
- :mod:`.connection`: the gateway's one WebSocket to HA (auth, ids, ping, reconnect);
- :mod:`.session`: one device's turns (``conversation/process``) and what HA's answers mean;
- :mod:`.home`: the areas and exposed entities read from HA's registries;
- :mod:`.phrases`: grammar patterns for HA's common intents over the home's names;
- :mod:`.agent`: the agent (factory ``create``), which keeps the phrases current;
- :mod:`.check`: its lines of ``voice-agent gateway --check``.

May import: :mod:`agent.gateway.dialog` (the agent interface), :mod:`agent.gateway.grammar`,
:mod:`agent.gateway.stt.dictionary` (which words can be heard), :mod:`agent.common` and
``websockets``.
"""
