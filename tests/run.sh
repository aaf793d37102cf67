#!/usr/bin/env bash
# rdeploy's single test command: ./tests/run.sh [CARGO_TEST_ARGS...] [-- TEST_BINARY_ARGS...]
#
# Sets up what the tests need on this machine (Docker engine, the fleet base image,
# a moto server on 127.0.0.1:5055, the ansible-core venv whose ansible-vault the vault
# tests compare against), then builds and runs every cargo test target.
# The fleet containers themselves are started by the Rust test harness through
# `tests/fleet/fleet.sh up N`.
#   ./tests/run.sh                       all tests
#   ./tests/run.sh fleet                 tests whose name contains "fleet"
#   ./tests/run.sh --test cli -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# System packages the fleet needs (only the missing ones are installed).
missing=()
for p in docker.io debootstrap openssh-client curl chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[run.sh] apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The browser test drives Debian's chromium with playwright-core (from the npm registry).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "[run.sh] npm install (tests/browser: playwright-core)" >&2
  (cd tests/browser && npm install --no-audit --no-fund --silent)
fi

t0=$(date +%s)
# peers: /opt/rdeploy-peers (ansible-core's ansible-vault, for tests/it/vault.rs).
./tests/fleet/fleet.sh docker image moto peers
echo "[run.sh] fleet setup done in $(( $(date +%s) - t0 )) s" >&2

# Split "$@" at a literal "--": before it goes to cargo test, after it to the test binaries.
cargo_args=()
bin_args=()
seen_sep=0
for a in "$@"; do
  if [ "$seen_sep" = 0 ] && [ "$a" = "--" ]; then seen_sep=1; continue; fi
  if [ "$seen_sep" = 0 ]; then cargo_args+=("$a"); else bin_args+=("$a"); fi
done

cargo build
cargo test --all-targets "${cargo_args[@]}" -- --test-threads=2 "${bin_args[@]}"
