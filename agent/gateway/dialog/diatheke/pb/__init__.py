"""Generated protobuf message modules (scripts/gen-protos.sh); do not edit.

May import: google.protobuf only.
"""
