"""The local reference gateway: the server side of the audio gateway protocol.

pocketsphinx speech to text constrained by the skills' phrases, a few
built-in skills, espeak-ng speech; see ``voice-agent gateway`` and
:func:`agent.gateway.server.serve_in_thread`. Nothing heavy is imported here.
"""
