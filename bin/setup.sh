#!/usr/bin/env bash
# Bring a fresh machine up to what d2l-ts needs, installing only what is missing:
#   1. Debian's Jupyter pieces (they run under /usr/bin/python3; there is no PyPI here),
#   2. the native CPU backend's build tools (g++, make, libdnnl-dev; optional),
#   3. the npm dependencies (npm ci, when node_modules is missing or older than the lock file),
#   4. the native backend's addon (bin/build-native.js; says why when it cannot),
#   5. the TypeScript build (dist/),
#   6. the JupyterLab app in lab/ (its own npm ci + rspack build, when lab/build is missing or stale).
# Registering the kernelspec is left to the caller (`d2l-ts notebook` does it when missing;
# the tests register it in a private prefix). Safe to run again: it skips what is done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[setup] %s\n' "$*"; }

# Node 20 or newer.
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "d2l-ts needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none)). Install it, then run this again." >&2
  exit 1
fi

# Debian's Jupyter. Everything here is imported by /usr/bin/python3, not a pyenv python on PATH.
# fonts-dejavu-core: the font plots are rendered to PNG with (resvg reads font files, not fontconfig).
# python3-jupyterlab-server serves `d2l-ts lab` (it depends on python3-jupyter-server, which apt brings along).
APT_PACKAGES=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel python3-jupyter-kernel-test python3-jupyterlab-server fonts-dejavu-core)
if ! PYDEVD_DISABLE_FILE_VALIDATION=1 /usr/bin/python3 -c 'import notebook, nbconvert, nbclient, jupyter_client, ipykernel, jupyter_kernel_test, jupyter_server, jupyterlab_server' >/dev/null 2>&1 \
  || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "Jupyter is missing and this user cannot install it. Ask an administrator to run:" >&2
      echo "  apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}" >&2
      exit 1
    fi
  fi
  say "installing Debian's Jupyter: ${APT_PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

# The native CPU backend's build needs: a C++ compiler, make, oneDNN (libdnnl-dev). Optional:
# without them d2l uses the wasm backend, so a user who cannot install them goes on.
# libopenblas0-pthread: the addon loads OpenBLAS at run time for small and matrix-vector products
# (lib/native/src/blas.cc; oneDNN runs them without it).
NATIVE_PACKAGES=(g++ make libdnnl-dev libopenblas0-pthread)
if [ "$(uname -s)" = Linux ] && { [ ! -f /usr/include/dnnl.hpp ] || ! command -v g++ >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 \
  || ! compgen -G "/usr/lib/*/libopenblas.so.0" >/dev/null; }; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    say "installing the native backend's build tools: ${NATIVE_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${NATIVE_PACKAGES[@]}" >/dev/null; } \
      || say "could not install ${NATIVE_PACKAGES[*]}; the native backend will not be built (d2l uses wasm)"
  else
    say "the native backend needs ${NATIVE_PACKAGES[*]} (ask an administrator: apt-get install ${NATIVE_PACKAGES[*]}); d2l uses wasm meanwhile"
  fi
fi

# npm dependencies, from the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The native backend's addon (npm ci built it already unless it was skipped; this builds it when
# its sources changed or the libraries arrived since). Never fails: it says why it did not build.
node bin/build-native.js

# Build (tsc is incremental enough at this size; it also type-checks everything).
say "building (tsc)"
npx --no-install tsc -p tsconfig.json

# The JupyterLab app (`d2l-ts lab`): lab/ has its own lock file, kept out of the kernel's npm ci
# (about 530 packages, 550 MB). npm ci when lab/node_modules is missing or older than the lock file;
# the rspack build (lab/build, about 12 MB) when missing or older than what it is built from.
if [ ! -f lab/node_modules/.package-lock.json ] || [ lab/package-lock.json -nt lab/node_modules/.package-lock.json ]; then
  say "installing the JupyterLab app's npm dependencies (npm ci in lab/)"
  npm ci --prefix lab --no-audit --no-fund --loglevel=error
fi
lab_stale=0
[ -f lab/build/bundle.js ] || lab_stale=1
for f in lab/package-lock.json lab/index.js lab/rspack.config.js lab/node_modules/.package-lock.json; do
  [ "$lab_stale" = 1 ] || [ ! "$f" -nt lab/build/bundle.js ] || lab_stale=1
done
if [ "$lab_stale" = 1 ]; then
  say "building the JupyterLab app (rspack, lab/build)"
  rm -rf lab/build
  npm run --prefix lab --silent build
fi
say "ready"
