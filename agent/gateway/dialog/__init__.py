"""What answers the device: the dialog back ends.

- :mod:`agent.gateway.dialog.skills`: :class:`Skills`, a registry of skills with
  their phrases and grammars, and :class:`Dialog`, one connection's dialog state.
- :mod:`agent.gateway.dialog.builtin`: the built-in skills and :func:`default_skills`.
- :mod:`agent.gateway.dialog.timer`: the timer skills (set, time left, cancel).

May import: :mod:`agent.gateway.grammar` and the standard library.
"""
