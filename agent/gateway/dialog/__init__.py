"""What answers the device: the dialog back ends.

- :mod:`agent.gateway.dialog.skills`: :class:`Skills`, a registry of skills with
  their phrases and grammars, and :class:`Dialog`, one connection's dialog state.
- :mod:`agent.gateway.dialog.builtin`: the built-in skills and :func:`default_skills`.
- :mod:`agent.gateway.dialog.timer`: the timer skills (set, time left, cancel).
- :mod:`agent.gateway.dialog.backend`: the interface a session hands transactions to.
- :mod:`agent.gateway.dialog.diatheke`: a Cobalt Diatheke server as the dialog.

May import: :mod:`agent.gateway.grammar`, :mod:`agent.gateway.stt.engine`,
:mod:`agent.gateway.dialog_settings`, :mod:`agent.link.protocol`, :mod:`agent.common`
and the standard library; never the session or the server.
"""
