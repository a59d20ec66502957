#!/usr/bin/env bash
# Mutation testing, one target at a time, one worker, under nice (docs/testing.md). Too slow for CI.
#   scripts/mutation.sh                 every target in pyproject.toml [tool.gradchain.mutation]
#   scripts/mutation.sh bank kernel     only these targets
#   scripts/mutation.sh --show bank     also print the diff of every surviving mutant
#   scripts/mutation.sh --list          the targets, their files and their focused tests
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import mutmut" 2>/dev/null; then
    echo "mutmut is missing: .venv/bin/pip install -e '.[dev]'" >&2
    exit 1
fi
exec .venv/bin/python scripts/mutation.py "$@"
