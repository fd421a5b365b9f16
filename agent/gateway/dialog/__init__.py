"""What answers the device: the agents of the chain.

- :mod:`agent.gateway.dialog.agent`: the agent interface (turns, reply parts, pass, fail).
- :mod:`agent.gateway.dialog.registry`: which agents a gateway runs, made by their factories.
- :mod:`agent.gateway.dialog.skills`: :class:`Skills`, a registry of skills with
  their phrases and grammars, and :class:`Dialog`, one connection's dialog state.
- :mod:`agent.gateway.dialog.builtin`: the built-in skills and :func:`default_skills`.
- :mod:`agent.gateway.dialog.timer`: the timer skills (set, time left, cancel).
- :mod:`agent.gateway.dialog.skills_agent`: the skills as an agent (they answer or pass).
- :mod:`agent.gateway.dialog.backend`: the :class:`Outbox` and :class:`Utterance` of an
  agent that hears the audio and answers the device itself.
- :mod:`agent.gateway.dialog.diatheke`: a Cobalt Diatheke server as an agent.
- :mod:`agent.gateway.dialog.llm`: any OpenAI-compatible language model as an agent.
- :mod:`agent.gateway.dialog.home_assistant`: Home Assistant's conversation API as an agent.
- :mod:`agent.gateway.dialog.web_url`: the URL rule of the remote agents.

May import: :mod:`agent.gateway.grammar`, :mod:`agent.gateway.stt.engine`,
:mod:`agent.gateway.dialog_settings`, :mod:`agent.gateway.settings` (types),
:mod:`agent.gateway.timers` (timers), :mod:`agent.link.protocol`, :mod:`agent.common`
and the standard library; never the session, the pipeline or the server.
"""
