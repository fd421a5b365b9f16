"""Timers that ring, and announcements: what the gateway says with no question asked.

- :mod:`agent.gateway.timers.store`: the timers' SQLite store (``state_dir``).
- :mod:`agent.gateway.timers.alarms`: firing timers, delivery per device, ``announce`` requests.
- :mod:`agent.gateway.timers.announce`: one session's side of announcements.

May import: the session, :mod:`agent.gateway.tts`, :mod:`agent.common` and
:mod:`agent.link.protocol`.
"""
