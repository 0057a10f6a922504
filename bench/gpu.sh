#!/usr/bin/env bash
# bench/gpu.sh: what a GPU machine gives d2l-ts (issue 23), from a built clone, offline, with nothing installed there.
#
#   bash bench/gpu.sh            the machine (nvidia-smi, Vulkan ICD files, libvulkan/libcuda/libcudnn, the adapter
#                                Dawn picks), the backend consistency test on that adapter, LeNet, ResNet-18 at 96 px,
#                                the GRU language model and a Transformer block timed on webgpu and native in one
#                                table beside the book's V100 figures, and a per-kernel profile of one step on webgpu
#   bash bench/gpu.sh --quick    the same with tiny batches and 1 timed step: passes on Mesa's lavapipe in CI
#                                (source test-artifacts/lavapipe/env.sh first); a smoke test, not a measurement
#
# Exit status 1 when the consistency test fails, a workload throws, or no WebGPU adapter is found.
# Needs: node (20.19+ or 22.12+), the built project (dist/, npx tsc), node_modules with the webgpu package's
# dawn.node for linux-x64, and libvulkan.so.1 (bench/README.md, "On a GPU machine", says what to carry).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=""
for a in "$@"; do
  case "$a" in
    --quick) QUICK="--quick" ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/gpu.sh: unknown option $a; expected --quick or nothing" >&2; exit 2 ;;
  esac
done
if [ ! -f dist/lib/index.js ] || [ ! -f dist/test/backend/consistency.test.js ]; then
  echo "bench/gpu.sh: the project is not built (no dist/lib/index.js): run npx tsc -p tsconfig.json first" >&2
  exit 2
fi
command -v node >/dev/null || { echo "bench/gpu.sh: node is not on the PATH (carry a Node 20.19+ binary and put its folder on PATH)" >&2; exit 2; }
failed=()
start=$(date +%s)

echo "== the machine"
echo "date $(date -u +%FT%TZ); $(uname -srm); node $(node --version); $(nproc) cores"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | sed 's/^/nvidia-smi: /'
else
  echo "nvidia-smi: not found"
fi
for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d; do
  if ls "$d"/*.json >/dev/null 2>&1; then
    for f in "$d"/*.json; do echo "vulkan ICD: $f -> $(grep -o '"library_path"[^,}]*' "$f" | head -1)"; done
  else
    echo "vulkan ICD: none in $d"
  fi
done
echo "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
# The NVIDIA container toolkit puts the driver's ICD under /usr/local/nvidia, where the Vulkan loader does not look.
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 \
  && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  echo "using VK_DRIVER_FILES=$VK_DRIVER_FILES (the only ICD file found)"
fi
for lib in libvulkan libcuda libcudart libcudnn; do
  found=$(ldconfig -p 2>/dev/null | grep -E "^\s*$lib\.so" | awk '{print $NF}' | tr '\n' ' ')
  echo "ldconfig: $lib: ${found:-not found}"
done
nodes=$(ls /dev/nvidia[0-9]* /dev/dri/renderD* 2>/dev/null | tr '\n' ' ')
echo "GPU device nodes: ${nodes:-none (no /dev/nvidia0, no /dev/dri/renderD*)}"

echo "== the adapter Dawn picks (dawn.node, high-performance)"
if ! node bench/gpu.js adapter 2>&1 | grep -v '^Warning: max.*artificially reduced'; then
  failed+=("adapter")
  echo "no WebGPU adapter: with no Vulkan driver for this GPU that is the finding (see the ICD and ldconfig lines above)"
fi

echo "== backend consistency on that adapter (cpu, native, wasm, webgpu: the same losses within 1e-4)"
if ! D2L_REQUIRE_WEBGPU=1 node --test --test-reporter=spec dist/test/backend/consistency.test.js 2>&1 | grep -v '^Warning: max.*artificially reduced'; then
  failed+=("consistency")
fi

echo "== timings: webgpu and native (one fresh process each)"
node bench/gpu.js time $QUICK 2>&1 | grep -v '^Warning: max.*artificially reduced' || failed+=("time")

echo "== profile: one training step of each workload on webgpu"
node bench/gpu.js profile $QUICK 2>&1 | grep -v '^Warning: max.*artificially reduced' | tee /tmp/d2l-gpu-profile.$$ || failed+=("profile")
n=$(grep -c "Error while parsing WGSL" /tmp/d2l-gpu-profile.$$ || true)
if [ "${n:-0}" -gt 0 ]; then echo "WARNING: Dawn rejected $n tfjs-backend-webgpu shader(s) during the profile (WGSL errors above)"; fi
rm -f /tmp/d2l-gpu-profile.$$

echo "== bench/gpu.sh $QUICK done in $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "ALL PASSED"
