#!/usr/bin/env bash
# Regenerate the Diatheke message modules from the project's .proto files.
#
#   .venv/bin/pip install grpcio-tools==1.85.1 && bash scripts/gen-protos.sh
#
# The generated modules are committed (the Pi needs no protoc): they were made
# with grpcio-tools 1.85.1 (protoc for protobuf 7.35.1), so they need the
# protobuf runtime 7.35.1 or newer, below 8 (pyproject.toml says so).
# Only message modules (--python_out, --pyi_out for mypy) are generated: the
# gateway calls the RPCs by their method paths (agent/gateway/dialog/diatheke/rpc.py),
# so no *_pb2_grpc.py is needed.
#
# Both API versions declare the package cobaltspeech.diatheke with clashing
# names (Empty, VersionResponse, the service), so each module is loaded into
# its own descriptor pool instead of the process-wide default one: the one
# line sed below is the only change made to protoc's output.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
src=agent/gateway/dialog/diatheke/protos
out=agent/gateway/dialog/diatheke/pb
for name in diatheke1 diatheke2; do
    "$python" -m grpc_tools.protoc -I "$src" --python_out="$out" --pyi_out="$out" "$src/$name.proto"
    sed -i 's/_descriptor_pool\.Default()/_descriptor_pool.DescriptorPool()/' \
        "$out/${name}_pb2.py"
done
echo "generated $out/diatheke1_pb2.py and $out/diatheke2_pb2.py"
