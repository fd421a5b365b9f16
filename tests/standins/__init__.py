"""Stand-ins for the cloud speech services, written from their published protocols.

Each is proven by a test that runs the vendor's own client against it
(``tests/gateway/test_standins.py``); the gateway's tests and the benchmark
then run the gateway against them.
"""
