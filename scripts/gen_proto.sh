#!/usr/bin/env bash
# Regenerate abci_app/proto/ (Python protobuf messages for ABCI, and the gRPC stubs of CometBFT's
# `tendermint.abci.ABCI` service for `--abci grpc`) from the pinned CometBFT module's own .proto files, so
# the wire types can never drift from the node binary we run.
#
# Reproducible: the inputs are pinned module versions in the Go module cache, the compiler is the pinned
# grpcio-tools, the file list is sorted, and the output directory is rebuilt from scratch.
set -euo pipefail

COMETBFT_VERSION=v0.38.25
GRPCIO_TOOLS_VERSION=1.85.1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
OUT=$ROOT/abci_app/proto

die() { echo "gen_proto.sh: $*" >&2; exit 1; }

GO=$(command -v go || true)
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
[ -n "$GO" ] || die "the Go toolchain is not on PATH; run scripts/setup.sh first"
[ -x "$PYTHON" ] || die "no Python at $PYTHON; create the venv (scripts/setup.sh) or set PYTHON=/path/to/python"

MODCACHE=$("$GO" env GOMODCACHE)
CMT=$MODCACHE/github.com/cometbft/cometbft@$COMETBFT_VERSION
[ -f "$CMT/proto/tendermint/abci/types.proto" ] ||
    die "CometBFT $COMETBFT_VERSION source not found at $CMT; run scripts/setup.sh (it installs cometbft@$COMETBFT_VERSION)"

# gogoproto's version is whatever the pinned CometBFT requires, read from its go.mod.
GOGO_VERSION=$(awk '$1 == "github.com/cosmos/gogoproto" { print $2; exit }' "$CMT/go.mod")
GOGO=$MODCACHE/github.com/cosmos/gogoproto@$GOGO_VERSION
[ -n "$GOGO_VERSION" ] && [ -f "$GOGO/gogoproto/gogo.proto" ] ||
    die "gogoproto ${GOGO_VERSION:-?} source not found at $GOGO; run scripts/setup.sh (or: go mod download github.com/cosmos/gogoproto@$GOGO_VERSION)"

HAVE_TOOLS=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null) ||
    die "grpcio-tools is not installed in $PYTHON; run: $PYTHON -m pip install grpcio-tools==$GRPCIO_TOOLS_VERSION"
[ "$HAVE_TOOLS" = "$GRPCIO_TOOLS_VERSION" ] ||
    die "grpcio-tools $HAVE_TOOLS installed, but the committed code is generated with $GRPCIO_TOOLS_VERSION; run: $PYTHON -m pip install grpcio-tools==$GRPCIO_TOOLS_VERSION"

# The ABCI types, everything they import, and the block header types the SDK needs to check proofs.
cd "$CMT/proto"
mapfile -t PROTOS < <(LC_ALL=C ls tendermint/abci/*.proto tendermint/crypto/*.proto \
    tendermint/types/*.proto tendermint/version/*.proto | LC_ALL=C sort)
cd "$ROOT"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# `python -m grpc_tools.protoc` adds its bundled include dir, which provides google/protobuf/*.proto.
"$PYTHON" -m grpc_tools.protoc -I "$CMT/proto" -I "$GOGO" --python_out="$TMP" \
    "${PROTOS[@]}" gogoproto/gogo.proto
# The ABCI gRPC service (abci_app/grpc_server.py) is the only service: stubs for that one file alone, so
# no empty *_pb2_grpc.py modules appear for the message-only files.
"$PYTHON" -m grpc_tools.protoc -I "$CMT/proto" -I "$GOGO" --grpc_python_out="$TMP" tendermint/abci/types.proto

# Generated modules import each other as top-level `tendermint.*` / `gogoproto.*`; rehome them under
# abci_app.proto so they cannot collide with other packages' `tendermint` modules (e.g. py-abci's).
find "$TMP" \( -name '*_pb2.py' -o -name '*_pb2_grpc.py' \) -print0 | LC_ALL=C sort -z | xargs -0 sed -i -E \
    -e 's/^from (tendermint|gogoproto)([. ])/from abci_app.proto.\1\2/' \
    -e "s/^(_builder\.BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'(tendermint|gogoproto)\./\1'abci_app.proto.\2./"
find "$TMP" -mindepth 1 -type d -exec touch {}/__init__.py \;

rm -rf "$OUT/tendermint" "$OUT/gogoproto"
mkdir -p "$OUT"
cp -r "$TMP/tendermint" "$TMP/gogoproto" "$OUT/"
echo "generated $(find "$OUT" -name '*_pb2.py' | wc -l) message modules and $(find "$OUT" -name '*_pb2_grpc.py' | wc -l) service module into ${OUT#$ROOT/} (CometBFT $COMETBFT_VERSION, gogoproto $GOGO_VERSION, grpcio-tools $GRPCIO_TOOLS_VERSION)"
