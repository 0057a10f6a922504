#!/usr/bin/env bash
# bench/gpu-pack.sh: pack what bench/gpu.sh needs at run time into .gpu-carry/ (git-ignored), small enough
# for a machine where nothing can be installed and what travels is limited (the device tool carries 64 MiB):
#
#   bash bench/gpu-pack.sh        (here, from a built clone, with lavapipe: source test-artifacts/lavapipe/env.sh)
#   bash .gpu-carry/run.sh [--quick]   (there, in the clone's copy: unpacks, then runs bench/gpu.sh)
#
# What goes in: the files a `bench/gpu.sh --quick` run here loaded or read (traced by bench/gpu-trace.cjs:
# dist/, the node_modules files actually required, the wasm binaries), the node binary, and the shared
# libraries the native addon and Dawn need (libdnnl, libgomp, libvulkan), all in one tar.xz.
# Exit status: 1 when the traced run fails or the pack is over the limit (D2L_CARRY_LIMIT_MIB, default 56,
# leaving room for the tracked tree).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/.gpu-carry"
LIMIT_MIB="${D2L_CARRY_LIMIT_MIB:-56}"
[ -f dist/lib/index.js ] || { echo "bench/gpu-pack.sh: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || grep -q '^/\?\.gpu-carry/\?$' .gitignore || {
  echo "bench/gpu-pack.sh: .gpu-carry/ must be ignored by git (it is in .gitignore in this repo)" >&2
  exit 2
}
rm -rf "$OUT"
mkdir -p "$OUT"
trace="$OUT/trace.txt"
: >"$trace"

echo "== tracing a bench/gpu.sh --quick run (the files it loads)"
if ! D2L_TRACE_OUT="$trace" NODE_OPTIONS="--require $ROOT/bench/gpu-trace.cjs ${NODE_OPTIONS:-}" bash bench/gpu.sh --quick >"$OUT/trace-run.log" 2>&1; then
  tail -20 "$OUT/trace-run.log" >&2
  echo "bench/gpu-pack.sh: the traced run failed (log: $OUT/trace-run.log)" >&2
  exit 1
fi

stage="$OUT/stage"
mkdir -p "$stage/.gpu-libs"
# the repository's own files (dist/, node_modules/, the native addon), relative to the root; tracked files travel anyway
sort -u "$trace" | while read -r f; do
  case "$f" in
    "$ROOT"/dist/* | "$ROOT"/node_modules/* | "$ROOT"/lib/native/build/*) [ -f "$f" ] && printf '%s\n' "${f#"$ROOT"/}" ;;
  esac
done >"$OUT/files.txt"
# a package's package.json is read by name resolution, not always through require: carry every one on the way
sed -n 's#^\(node_modules/\(@[^/]*/\)\?[^/]*\)/.*#\1/package.json#p' "$OUT/files.txt" | sort -u | while read -r p; do [ -f "$p" ] && echo "$p"; done >>"$OUT/files.txt"
# a folder of wasm binaries and their scripts whole (the threaded build's script is loaded by its workers, which the trace misses)
grep -o '^node_modules/.*/wasm-out/' "$OUT/files.txt" | sort -u | while read -r d; do find "$d" -type f; done >>"$OUT/files.txt"
sort -u -o "$OUT/files.txt" "$OUT/files.txt"
tar -cf - -T "$OUT/files.txt" | tar -xf - -C "$stage"
cp "$(command -v node)" "$stage/.gpu-libs/node"
addon=lib/native/build/Release/d2l_native.node
for lib in libdnnl.so.2 libgomp.so.1; do
  p=$(ldd "$addon" 2>/dev/null | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$p" ] && cp -L "$p" "$stage/.gpu-libs/"
done
p=$(ldconfig -p | awk '$1 == "libvulkan.so.1" && /x86-64/ { print $NF; exit }')
[ -n "$p" ] && cp -L "$p" "$stage/.gpu-libs/"

tar -C "$stage" -cf - . | xz -T1 -6 >"$OUT/payload.tar.xz"
rm -rf "$stage"
cat >"$OUT/run.sh" <<'EOF'
#!/usr/bin/env bash
# Unpack .gpu-carry/payload.tar.xz into the clone (dist/, node_modules/, .gpu-libs/) and run bench/gpu.sh with it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
xz -dc .gpu-carry/payload.tar.xz | tar -xf -
export PATH="$ROOT/.gpu-libs:$PATH"
# the machine's own libraries first (its libvulkan may know its driver better); the carried ones where it has none
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$ROOT/.gpu-libs"
exec bash bench/gpu.sh "$@"
EOF
size=$(stat -c %s "$OUT/payload.tar.xz")
files=$(wc -l <"$OUT/files.txt")
echo "packed $files files of dist/ and node_modules/, node and $(xz -dc "$OUT/payload.tar.xz" | tar -tf - | grep -c '^\./\.gpu-libs/lib') libraries into .gpu-carry/payload.tar.xz: $((size / 1048576)) MiB (limit $LIMIT_MIB MiB)"
if [ "$size" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "bench/gpu-pack.sh: the pack is over $LIMIT_MIB MiB" >&2
  exit 1
fi
