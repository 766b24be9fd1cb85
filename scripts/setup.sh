#!/usr/bin/env bash
# Installs what building and testing WA Gateway needs, and only what is missing:
# the wasm target, rustfmt/clippy, wasm-bindgen-cli at exactly the Cargo.lock version,
# the end2end npm packages (Playwright, binaryen's wasm-opt) and, with --browser,
# Debian's chromium. Safe to run again: every step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding $component"
    rustup component add "$component"
  fi
done

# The CLI must equal the wasm-bindgen crate in Cargo.lock, or the site breaks at runtime.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb_version" ]; then
  say "installing wasm-bindgen-cli $wb_version (takes ~5 min once)"
  # Not --locked: its lockfile names a crate version the registry mirror may lack.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

if ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  apt_install nodejs npm
fi
if [ ! -f end2end/node_modules/.package-lock.json ] \
  || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund)
fi

if [ "$browser" -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium for browser tests"
  apt_install chromium
fi
say "setup complete"
