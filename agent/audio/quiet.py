"""PortAudio's probing noise (ALSA/JACK messages on stderr) filtered out, real errors kept."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

# Lines PortAudio's ALSA and JACK host APIs print while probing devices that do
# not exist here (no card 0, no JACK server, no PulseAudio, the OSS emulation).
# They are not errors of ours; anything else written to stderr is passed on.
_NOISE = re.compile(
    r"^\s*$"
    r"|^ALSA lib "
    r"|^Expression '.*' failed in '.*pa_linux_alsa\.c'"
    r"|^Cannot connect to server"
    r"|^jack server is not running"
    r"|^JackShmReadWritePtr"
    r"|^connect\(2\) call to .* failed"
    r"|^attempt to connect to server failed"
    r"|^bt_audio_service_open"
)


def is_portaudio_noise(line: str) -> bool:
    """True for a stderr line PortAudio's device probing prints that means nothing to the user."""
    return bool(_NOISE.match(line))


@contextmanager
def quiet_portaudio() -> Iterator[None]:
    """Capture file descriptor 2 inside the block; afterwards re-print all but the noise.

    ALSA and JACK write to the C-level stderr, so redirecting ``sys.stderr``
    would not catch them: fd 2 itself is pointed at a temporary file. Lines
    that are not PortAudio probing noise (a real ALSA error text PyAudio does
    not repeat, a Python warning) are written to stderr when the block ends.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if not is_portaudio_noise(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
