"""The device: the conversation state machine and the daemon that runs it.

- :mod:`agent.device.events`: the events adapters post to the one queue.
- :mod:`agent.device.ports`: the Protocols the conversation needs of each part.
- :mod:`agent.device.conversation`: :class:`Conversation`, the one owner of state.
- :mod:`agent.device.announcements`: announcements and ringing timers on top of it.
- :mod:`agent.device.streamer`: a turn's ``audio_data`` from the pre-roll ring.
- :mod:`agent.device.adapters`: small adapters from the parts to the ports.
- :mod:`agent.device.daemon`: :class:`Daemon`, the wiring, threads, signals.
- :mod:`agent.device.gpio`, :mod:`agent.device.button`, :mod:`agent.device.led`:
  the push-to-talk button and the status LED (gpiozero).
- :mod:`agent.device.notify`: systemd's notify protocol and watchdog.
- :mod:`agent.device.recorder`: debug recordings of each turn.
- :mod:`agent.device.timings`: optional timestamps for the benchmarks.
- :mod:`agent.device.operate`: the hook, the control socket and the metrics, wired in;
  :mod:`agent.device.hooks` (the hook command), :mod:`agent.device.control` (the
  socket's JSON lines), :mod:`agent.device.control_server` (its thread),
  :mod:`agent.device.metrics` (Prometheus).

May import: :mod:`agent.common`, :mod:`agent.config`, :mod:`agent.link`,
:mod:`agent.audio` and :mod:`agent.hearing`. Never :mod:`agent.gateway`.
"""
