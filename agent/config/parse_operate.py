"""Parses the ``hooks``, ``control`` and ``metrics`` sections (see :mod:`agent.config.operate`)."""

from __future__ import annotations

import ipaddress
import os
import shutil
from typing import Any

from agent.common.settings_reader import Reader
from agent.common.settings_values import MISSING, describe
from agent.config.operate import (
    DEFAULT_METRICS_PORT,
    EVENT_NAMES,
    ControlSettings,
    HooksSettings,
    MetricsSettings,
)

_D_CONTROL = ControlSettings()


def parse_hooks(r: Reader) -> HooksSettings:
    """``hooks.command`` (an argv list of non-empty strings) and ``hooks.events``."""
    return HooksSettings(command=_argv(r, "command"), events=_events(r, "events"))


def _argv(r: Reader, name: str) -> tuple[str, ...] | None:
    value = r.raw(name)
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        # A string would need a shell to split; say so instead of guessing.
        r.fail(name, f"expected a list like [program, arg, ...] (no shell), got {describe(value)}")
    if not isinstance(value, list) or not value:
        r.fail(name, f"expected a non-empty list of strings or null, got {describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item or "\0" in item:
            r.fail(f"{name}[{index}]", f"expected a non-empty string, got {describe(item)}")
    program = value[0] if "/" not in value[0] else r.resolve(value[0])
    if shutil.which(program) is None:
        r.fail(
            f"{name}[0]",
            f"expected a program on PATH or an executable file, got {describe(value[0])}",
        )
    return (program, *value[1:])


def _events(r: Reader, name: str) -> tuple[str, ...] | None:
    value = r.raw(name)
    if value is MISSING or value is None:
        return None
    if not isinstance(value, list) or not value:
        r.fail(name, f"expected a non-empty list of event names or null, got {describe(value)}")
    for index, item in enumerate(value):
        if item not in EVENT_NAMES:
            r.fail(
                f"{name}[{index}]",
                f"expected one of {', '.join(EVENT_NAMES)}, got {describe(item)}",
            )
    return tuple(dict.fromkeys(value))  # each once, in the order written


def parse_control(r: Reader) -> ControlSettings:
    """``control.socket``: an absolute path in an existing directory, or null (off)."""
    value = r.raw("socket")
    if value is MISSING:
        return _D_CONTROL
    path = r.path("socket")
    if path is None:
        return ControlSettings(socket=None)
    if len(os.fsencode(path)) > 107:  # sun_path holds 108 bytes with its NUL
        r.fail("socket", f"expected a path of at most 107 bytes, got {len(os.fsencode(path))}")
    return ControlSettings(socket=path)


def parse_metrics(r: Reader) -> MetricsSettings:
    """``metrics.listen``: ``PORT``, ``HOST:PORT``, ``[V6]:PORT``, or null (off)."""
    value = r.raw("listen")
    if value is MISSING or value is None or value is False:
        return MetricsSettings()
    return MetricsSettings(listen=_address(r, "listen", value))


def _address(r: Reader, name: str, value: Any) -> tuple[str, int]:
    expected = "a port (0-65535), HOST:PORT or null"
    host, port_text = "127.0.0.1", None
    if isinstance(value, bool):
        r.fail(name, f"expected {expected}, got {describe(value)}")
    if isinstance(value, int):
        port_text = str(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            port_text = text
        elif text.startswith("["):  # [::1]:9466
            inner, _, rest = text[1:].partition("]")
            host, port_text = inner, rest[1:] if rest.startswith(":") else None
        else:
            host, sep, port_text = text.rpartition(":")
            if not sep:
                host, port_text = text, str(DEFAULT_METRICS_PORT)
    if port_text is None or not port_text.isdigit() or int(port_text) > 65535 or not host:
        r.fail(name, f"expected {expected}, got {describe(value)}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            # A name would be resolved at start; an address is what a listener binds.
            r.fail(name, f"expected an IP address (or localhost) as host, got {describe(host)}")
    return ("127.0.0.1" if host == "localhost" else host, int(port_text))
