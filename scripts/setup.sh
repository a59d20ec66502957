#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: Python venv with the project, and CometBFT v0.38.25 built with
# `go install` into ./.bin (never @latest: that resolves to the incompatible v1 line).
set -euo pipefail
cd "$(dirname "$0")/.."
COMETBFT_VERSION=0.38.25

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    say "installing $* with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: $* missing and no apt-get here; install it and re-run" >&2; exit 1
  fi
}

# --- Python 3.11 ---------------------------------------------------------------------------------
PY=""
for cand in python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PY=$cand; break
  fi
done
if [ -z "$PY" ]; then apt_install python3.11 python3.11-venv; PY=python3.11; fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv || { apt_install python3.11-venv; "$PY" -m venv .venv; }
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing gradchain and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi

# --- CometBFT ------------------------------------------------------------------------------------
have_version() { [ -x .bin/cometbft ] && [ "$(.bin/cometbft version 2>/dev/null)" = "$COMETBFT_VERSION" ]; }
find_go() {
  [ -n "${GO:-}" ] && return 0
  GO=$(command -v go || true)
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  [ -n "$GO" ]
}
if ! have_version; then
  find_go || { apt_install golang-go; GO=$(command -v go); }
  say "building CometBFT v$COMETBFT_VERSION with $("$GO" version | cut -d' ' -f3) (takes a minute or two)"
  GOBIN="$PWD/.bin" GOFLAGS=-mod=mod "$GO" install "github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION"
  have_version || { echo "error: .bin/cometbft does not report $COMETBFT_VERSION" >&2; exit 1; }
fi
# abci-cli from the same module and version: its `kvstore` over the ABCI socket is a benchmark baseline
# (bench/testnet_throughput.py, bench/throughput.py --abci-cli). It reports only the ABCI version, so the
# module version is read from the binary's build info.
have_abci_cli() { [ -x .bin/abci-cli ] && find_go && "$GO" version -m .bin/abci-cli 2>/dev/null |
  grep -q "mod[[:space:]]*github.com/cometbft/cometbft[[:space:]]*v$COMETBFT_VERSION\b"; }
if ! have_abci_cli; then
  find_go || { apt_install golang-go; GO=$(command -v go); }
  say "building abci-cli v$COMETBFT_VERSION"
  GOBIN="$PWD/.bin" GOFLAGS=-mod=mod "$GO" install "github.com/cometbft/cometbft/abci/cmd/abci-cli@v$COMETBFT_VERSION"
  have_abci_cli || { echo "error: .bin/abci-cli is not built from cometbft v$COMETBFT_VERSION" >&2; exit 1; }
fi
# --- Chromium, for the explorer's browser test (tests/integration/test_explorer.py) --------------
# Debian's own package, driven by Playwright (the dev extra) through executable_path; no `playwright install`.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt_install chromium || echo "warning: could not install chromium; the explorer's browser test will skip" >&2
  else
    echo "warning: chromium missing and no apt-get; the explorer's browser test will skip" >&2
  fi
fi

say "ready: .venv (gradchain $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("gradchain"))')), .bin/cometbft and .bin/abci-cli $COMETBFT_VERSION"
