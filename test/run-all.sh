#!/usr/bin/env bash
# The project's whole test run (what `npm test` and CI run): set up what is missing,
# build, then the Node unit tests and the Jupyter-protocol tests against the real kernel.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash bin/setup.sh

# Register the kernelspec in a private prefix so the tests run this checkout's kernel,
# whatever else the user has installed.
ART="$ROOT/test-artifacts"
rm -rf "$ART/jupyter" && mkdir -p "$ART"
node bin/d2l-ts.js install --prefix "$ART/jupyter" >/dev/null
export JUPYTER_PATH="$ART/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PYDEVD_DISABLE_FILE_VALIDATION=1

failed=()
start=$(date +%s)

echo "== lint and format (eslint: floating promises, unused variables, no any in lib/; prettier --check)"
(npm run lint && npm run format:check) || failed+=("lint")

echo "== unit tests (node --test)"
D2L_REQUIRE_NATIVE=1 node --test --test-reporter=spec dist/test/unit/ || failed+=("unit")

echo "== backend consistency (cpu, wasm, webgpu on Mesa's lavapipe): same losses within 1e-4"
bash test/backend/setup-lavapipe.sh "$ART/lavapipe" >/dev/null || failed+=("lavapipe")
# a subshell, so the Vulkan variables stay out of the other tests
(source "$ART/lavapipe/env.sh" && D2L_REQUIRE_NATIVE=1 D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/consistency.test.js) || failed+=("backend")
(source "$ART/lavapipe/env.sh" && D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/webgpu-reads.test.js) || failed+=("webgpu-reads")
(source "$ART/lavapipe/env.sh" && D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/webgpu-lib-reads.test.js) || failed+=("webgpu-lib-reads")
(source "$ART/lavapipe/env.sh" && D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/webgpu-plots.test.js) || failed+=("webgpu-plots")
# bench/gpu.sh in its short mode on lavapipe: the adapter report, consistency, each GPU workload and the profile run
(source "$ART/lavapipe/env.sh" && D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/webgpu-cast.test.js) || failed+=("webgpu-cast")
(source "$ART/lavapipe/env.sh" && bash bench/gpu.sh --quick) || failed+=("gpu.sh")
# chapter 3 and chapter 6's layers (6.1-6.5) quick on webgpu (lavapipe): the notebooks read with await, and the kernel
# shows a tensor result with await. LeNet's training (6.6) is left out here: 447 s on lavapipe, a CPU; the LeNet
# workload of bench/gpu.sh --quick and the consistency test above train it on webgpu.
(source "$ART/lavapipe/env.sh" && cd test/notebooks && D2L_BACKEND=webgpu /usr/bin/python3 -m unittest -v test_notebooks -k chapter_03_ -k '*chapter_06_*__0[1-5]_*') || failed+=("notebooks-webgpu")

echo "== kernel protocol tests (jupyter_client under /usr/bin/python3)"
(cd test/kernel && /usr/bin/python3 -m unittest discover -v -p 'test_*.py') || failed+=("kernel")

echo "== notebooks, quick mode, through the kernel (results asserted per notebook): all on native, chapter 3 also on wasm"
(cd test/notebooks && /usr/bin/python3 -m unittest -v test_notebooks) || failed+=("notebooks")
(cd test/notebooks && D2L_BACKEND=wasm /usr/bin/python3 -m unittest -v test_notebooks -k chapter_03_) || failed+=("notebooks-wasm")

echo "== export (nbconvert; PDF by headless Chromium) and real-browser tests (classic Notebook and JupyterLab in Chromium via playwright-core)"
# Chromium prints the PDFs, renders the HTML's formulas with Debian's MathJax (libjs-mathjax) and is the browser;
# poppler-utils reads the PDFs back. Installed only when missing.
if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 || [ ! -f /usr/share/javascript/mathjax/MathJax.js ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium poppler-utils libjs-mathjax >/dev/null \
    || echo "could not install chromium, poppler-utils and libjs-mathjax: the export and browser tests will say what is missing"
fi
node --test --test-reporter=spec dist/test/export/ || failed+=("export")
node --test --test-reporter=spec dist/test/browser/ || failed+=("browser")

echo "== hub (d2l-ts hub: Debian's JupyterHub 3.0, users through its REST API, kernels over its proxy, limits)"
# jupyterhub brings Debian's node-configurable-http-proxy. Installed only when missing.
if ! /usr/bin/python3 -c 'import jupyterhub' >/dev/null 2>&1 || [ ! -x /usr/bin/configurable-http-proxy ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends jupyterhub >/dev/null \
    || echo "could not install jupyterhub: the hub test will say what is missing"
fi
(cd test/hub && /usr/bin/python3 -m unittest -v test_hub) || failed+=("hub")

echo "== done in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "ALL PASSED"
