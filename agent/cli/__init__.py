"""The ``voice-agent`` command: argument parsing, one module per subcommand.

Each module parses its arguments and calls one function of another room;
:mod:`agent.cli.main` picks the subcommand and imports its module lazily, so
``check-config`` loads no onnxruntime or PortAudio.

May import: every other room. Nothing imports this package.
"""

from agent.cli.main import main

__all__ = ["main"]
