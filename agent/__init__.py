"""voice-agent: a voice device for the Raspberry Pi that talks to an audio gateway."""

__version__ = "0.1.0"
