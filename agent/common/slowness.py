"""The words both halves use when the machine is too slow (see README, "Slow boards").

The gateway logs :data:`SLOW_STT` once when its speech to text runs far slower
than real time (:mod:`agent.gateway.stt.speed`); ``voice-agent doctor`` looks
for the same words in the gateway service's journal on the same board.
"""

SLOW_STT = "this machine is too slow for speech to text"
GATEWAY_UNIT = "voice-agent-gateway"
