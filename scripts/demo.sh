#!/usr/bin/env bash
# Set up (idempotent), then run the main job: a local chain, driven only through the `gradchain` CLI.
# Today: one validator, funded accounts in several denoms, signed transfers, balances read with Merkle
# proofs, a bad tx refused with its code, a restart that resumes from the last block.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PWD/.bin:$PATH"

HOME_DIR=${DEMO_HOME:-$PWD/.demo}
export GRADCHAIN_HOME=$HOME_DIR
export GRADCHAIN_PASSWORD=${GRADCHAIN_PASSWORD:-demo-password}   # keyring password for this demo only
rm -rf "$HOME_DIR"

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
NODE_PID=""
stop_node() { [ -n "$NODE_PID" ] && kill -TERM "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null; NODE_PID=""; }
trap stop_node EXIT INT TERM

start_node() {
  gradchain start > "$HOME_DIR/node.out" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 1 100); do
    h=$(gradchain -o json status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0)
    [ "${h:-0}" -ge "${1:-2}" ] && return 0
    kill -0 "$NODE_PID" 2>/dev/null || { echo "node exited; see $HOME_DIR/node.out"; tail -20 "$HOME_DIR/node.out"; exit 1; }
    sleep 0.3
  done
  echo "node did not start; see $HOME_DIR/node.out"; exit 1
}

run gradchain init --moniker demo-node
echo "(starting the node in the background: gradchain start; logs in $HOME_DIR)"
start_node 2
run gradchain status
run gradchain keys add alice
run gradchain keys add bob
run gradchain tx bank send faucet alice 5000000ugrad,250000uusdc,1000000000000000000ueth
run gradchain tx bank send alice bob 1200ugrad,700uusdc --memo "first transfer"
run gradchain query bank balances bob
run gradchain query bank balances bob --denom uusdc
echo; echo "# a transfer bob cannot afford is refused with a stable code, and nothing changes:"
run gradchain tx bank send bob alice 999999999uusdc || true
run gradchain query bank supply
echo; echo "# stop the node and start it again: it resumes from the last committed block"
before=$(gradchain -o json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')
stop_node
start_node $((before + 1))
run gradchain query bank balances bob
run gradchain -o json query account alice
echo; echo "demo finished; node home kept in $HOME_DIR"
