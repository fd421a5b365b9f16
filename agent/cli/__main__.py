"""``python -m agent.cli``: the same as the ``voice-agent`` command."""

import sys

from agent.cli.main import main

sys.exit(main())
