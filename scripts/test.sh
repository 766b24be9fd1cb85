#!/usr/bin/env bash
# Runs every test: formatting, clippy (-D warnings, native and wasm), unit and
# integration tests, the single-SQLite check, and the browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))"; }

step "setup"
scripts/setup.sh --browser

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (server, app, xtask, bench)"
cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
step "clippy (browser bundle, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests"
cargo test --workspace --exclude frontend

step "browser bundle and server binary (debug)"
cargo xtask build

step "end-to-end tests in chromium"
(cd end2end && npx playwright test)

step "all tests passed"
