#!/usr/bin/env bash
# Set up (idempotent), then run the main job: a local 4-validator testnet driven only through the
# `gradchain` CLI. Today: signed multi-denom transfers sent to one node and read (with Merkle proofs)
# from another, a refused tx with its code, a validator crash the network rides out, a new validator
# joining and leaving, then federated training of a digit classifier by four trainers (one poisoning)
# over five rounds: sealed updates, scoring, new heads, payouts, and the final accuracy vs central.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PWD/.bin:$PATH"

ROOT=${DEMO_ROOT:-$PWD/.demo}
export GRADCHAIN_HOME=$ROOT                                        # keyring lives in $ROOT/keyring
export GRADCHAIN_PASSWORD=${GRADCHAIN_PASSWORD:-demo-password}    # keyring password for this demo only
PORT_BASE=${DEMO_PORT_BASE:-27000}
N0=http://127.0.0.1:$((PORT_BASE + 1)); N3=http://127.0.0.1:$((PORT_BASE + 31))

run() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
tn() { gradchain testnet --root "$ROOT" "$@"; }
cleanup() { tn stop >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
height() { gradchain --node "$1" -o json status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0; }
wait_height() {  # url target
  for _ in $(seq 1 300); do [ "$(height "$1")" -ge "$2" ] && return 0; sleep 0.3; done
  echo "node $1 did not reach height $2; logs in $ROOT/node*/"; exit 1
}

cleanup; rm -rf "$ROOT"
run gradchain testnet --root "$ROOT" init --validators 4 --port-base "$PORT_BASE" --timeout-commit 500ms
run gradchain testnet --root "$ROOT" start
wait_height "$N0" 3; wait_height "$N3" 3
run gradchain testnet --root "$ROOT" status

run gradchain keys add alice
run gradchain keys add bob
echo; echo "# transfers go to node 0 ..."
run gradchain --node "$N0" tx bank send faucet alice 100000000ugrad,2500000uusdc,1000000000000000000ueth
run gradchain --node "$N0" tx bank send alice bob 1200ugrad,700uusdc --memo "first transfer"
echo; echo "# ... and are read from node 3, the uusdc balance checked with a Merkle proof"
run gradchain --node "$N3" query bank balances bob
run gradchain --node "$N3" query bank balances bob --denom uusdc
echo; echo "# a transfer bob cannot afford is refused with a stable code; nothing is charged"
run gradchain --node "$N0" tx bank send bob alice 999999999uusdc || true

echo; echo "# federated training: alice registers a digit classifier with a hidden validation set and a uusdc"
echo "# bounty; four trainers with skewed private data (t4 flips its labels) train it over five rounds."
echo "# Updates are sealed until each window closes, opened by the validators' vote extensions, scored"
echo "# bit for bit by all 4 validators with their FedAvg aggregate; the best becomes the new head and pays."
run python scripts/demo_training.py "$N0" "$ROOT/keyring" alice

echo; echo "# private rounds: the same task on a model registered in aggregate mode (cohorts of 3). Trainers"
echo "# join with a fresh round key, mask their updates so that only each cohort's sum can be recovered, and"
echo "# the validators release one secret per member; in round 2 a trainer drops out after joining. No single"
echo "# update is ever opened or stored: the chain holds only the cohort means (docs/privacy.md)."
run gradchain --node "$N0" tx bank send faucet alice 100000000ugrad,1000000uusdc
run python scripts/demo_training.py "$N0" "$ROOT/keyring" alice --privacy aggregate --rounds 3
AGG_ROUND=$(python - "$N0" <<'EOF'
import sys
from chain.codec import u64
from client import Client
with Client(sys.argv[1]) as c:
    print(next(r for r in range(1000) if c.query_json("/rounds/round", u64(2, r)).get("cohort_list")))
EOF
)
echo; echo "# what the chain holds for an aggregate-mode round: joins, cohorts and the mean; no member's update"
run gradchain --node "$N3" query round 2 "$AGG_ROUND"

echo; echo "# kill -9 validator node2: the other three (30 of 40 power) keep committing"
kill -9 "$(cat "$ROOT/node2/node.pid")"
h=$(height "$N0"); wait_height "$N0" $((h + 3))
run gradchain --node "$N0" tx bank send alice bob 1ugrad
run gradchain testnet --root "$ROOT" status
echo; echo "# restart it: it catches up and agrees on the app hash"
run gradchain testnet --root "$ROOT" start
wait_height "http://127.0.0.1:$((PORT_BASE + 21))" "$(height "$N0")"
run gradchain testnet --root "$ROOT" status

echo; echo "# a fifth operator joins: a full node syncs, then bonds to become a validator, then leaves"
run gradchain testnet --root "$ROOT" add-node
run gradchain testnet --root "$ROOT" start
N4=http://127.0.0.1:$((PORT_BASE + 41))
wait_height "$N4" "$(height "$N0")"
run gradchain --node "$N0" tx bank send faucet alice 20000000ugrad
run gradchain --node "$N4" tx validators create alice --node-home "$ROOT/node4" --bond 10000000ugrad
wait_height "$N0" $(( $(height "$N0") + 3 ))
run gradchain --node "$N0" query validators
run gradchain testnet --root "$ROOT" status
run gradchain --node "$N4" tx validators unbond alice
wait_height "$N0" $(( $(height "$N0") + 3 ))
run gradchain testnet --root "$ROOT" status
echo; echo "demo finished; testnet files kept in $ROOT (gradchain testnet --root $ROOT start to resume)"
echo "browse what the chain holds (models, rounds, earnings, version tree, accuracy per round), verified:"
echo "  gradchain testnet --root $ROOT start && gradchain explorer --node $N0    # http://127.0.0.1:$((PORT_BASE + 8))/"
