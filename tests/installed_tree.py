"""Run a command as if an ``install.sh --root`` tree had been copied to ``/``.

In a private mount namespace (``unshare -rm``: an unprivileged user namespace,
nothing changes outside it) the tree's ``opt/voice-agent`` is mounted at
``/opt/voice-agent``, and the directory it was built in is hidden, so a
script that still points at the build path fails as it would on the target.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = """
set -e
root=$1; shift
mount -t tmpfs none /opt
mkdir /opt/voice-agent
mount --bind "$root/opt/voice-agent" /opt/voice-agent
mount -t tmpfs none "$root/opt"
exec "$@"
"""


def namespaces_work() -> bool:
    """True when this machine lets an unprivileged user make a mount namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not namespaces_work(), reason="needs unprivileged user and mount namespaces (unshare -rm)"
)


def at_slash(root: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``root``'s venv at /opt/voice-agent and ``root/opt`` hidden."""
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", SCRIPT, "sh", str(root), *argv],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
