"""systemd service notification (sd_notify(3)) and watchdog interval.

systemd (``Type=notify``) passes ``$NOTIFY_SOCKET``: an ``AF_UNIX``
``SOCK_DGRAM`` socket, a file path or, with a leading ``@``, a name in the
abstract namespace. Each datagram is newline-separated ``KEY=VALUE`` lines
(``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``,
``RELOADING=1`` with ``MONOTONIC_USEC=``). Without ``$NOTIFY_SOCKET`` every
call does nothing, so the daemon runs the same outside systemd.

Written here rather than taken from the ``sdnotify`` package: the protocol is
a few lines of ``socket``; ``sdnotify`` (0.3.2, unchanged since 2017) does
handle ``@`` names but swallows every error silently (we want one log line),
has no ``WATCHDOG_USEC``/``WATCHDOG_PID`` helper and no ``MONOTONIC_USEC``,
and would be one more dependency. ``vsock:`` addresses (systemd 253+, for
VMs) are not supported: they are logged once and ignored.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to systemd; a no-op without ``$NOTIFY_SOCKET``.

    Never raises on send errors: the first failure is logged as a warning,
    later ones at debug level. Safe to call from several threads (each call
    is one ``sendto``).
    """

    def __init__(self, address: str | None = None, *, environ: Mapping[str, str] | None = None):
        """Use ``address`` (as ``$NOTIFY_SOCKET`` would hold it), else the environment's."""
        if address is None:
            address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET") or None
        self.address = address
        self._target: str | bytes | None = None
        self._sock: socket.socket | None = None
        self._warned = False
        if address is None:
            return
        if address.startswith("@"):
            # Abstract namespace: a leading NUL byte instead of "@", no file.
            self._target = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._target = address
        else:
            self._fail(f"unsupported NOTIFY_SOCKET address {address!r}")
            return
        try:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError as exc:
            self._fail(str(exc))

    @property
    def enabled(self) -> bool:
        """True when there is a socket to send to."""
        return self._sock is not None

    def _fail(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("systemd notification failed (%s); further failures not logged", why)
        else:
            log.debug("systemd notification failed (%s)", why)

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True if it was sent."""
        if self._sock is None or self._target is None:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode(), self._target)
        except OSError as exc:
            self._fail(f"{self.address}: {exc}")
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup finished (``READY=1``), with an optional status line."""
        return self.notify("READY=1", *([_status(status)] if status is not None else []))

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status``."""
        return self.notify(_status(text))

    def watchdog(self) -> bool:
        """Keep-alive ping (``WATCHDOG=1``); send every :func:`watchdog_interval_s`."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Shutdown has begun (``STOPPING=1``)."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """Reload has begun; send :meth:`ready` when done (``Type=notify-reload``)."""
        # CLOCK_MONOTONIC in microseconds: systemd uses it to order this
        # message against the reload request it sent.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def close(self) -> None:
        """Close the socket; later calls do nothing."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _status(text: str) -> str:
    # One line: a newline would start a new assignment (e.g. a forged READY=1).
    return "STATUS=" + " ".join(text.splitlines())


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to send ``WATCHDOG=1``: half of ``$WATCHDOG_USEC``, in seconds.

    None when the watchdog is off: ``WATCHDOG_USEC`` unset, not a positive
    integer, or ``WATCHDOG_PID`` set to another process's pid (as
    sd_watchdog_enabled(3)).
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text:
        try:
            if int(pid_text) != os.getpid():
                return None
        except ValueError:
            log.warning("ignoring invalid WATCHDOG_PID %r", pid_text)
            return None
    try:
        usec = int(usec_text)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("ignoring invalid WATCHDOG_USEC %r", usec_text)
        return None
    return usec / 2 / 1_000_000
