#!/usr/bin/env bash
# The long fault soak, kept out of ./scripts/test.sh (CI) for time: 20 kills of a random validator of a
# namespaced 4-validator testnet under transfer load, then every committed tx found, one app hash per
# height and the supply unchanged at every height (tests/integration/test_perturbation_testnet.py).
# Needs root for the network namespaces, like the other perturbation tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.bin:$PATH"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -m soak tests/integration/test_perturbation_testnet.py "$@"
