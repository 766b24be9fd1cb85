#!/usr/bin/env bash
# Sets up (if needed), builds and runs WA Gateway on http://localhost:5001 with SQLite.
# Release build by default; `--dev` for a quicker unoptimised build. Arguments after
# `--` go to wa-gateway (e.g. `-- migrate`). Configuration: environment or .env.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [ "${1:-}" = "--dev" ]; then profile=(); shift; fi
if [ "${1:-}" = "--" ]; then shift; fi
scripts/setup.sh
cargo xtask run "${profile[@]}" -- "$@"
