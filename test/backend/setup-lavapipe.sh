#!/usr/bin/env bash
# Set up Mesa's lavapipe (a software Vulkan driver) in a private folder, so that
# the webgpu backend (dawn.node) has a Vulkan device on a machine without a GPU.
# It is for correctness tests, not speed: dawn.node reports it as a fallback
# adapter, and d2l never chooses it unless D2L_BACKEND=webgpu asks for it.
#
#   bash test/backend/setup-lavapipe.sh DIR
#   source DIR/env.sh            # or: eval "$(bash test/backend/setup-lavapipe.sh DIR)"
#
# Nothing is installed over the system's Mesa. Debian bookworm's own Mesa (22.3)
# is too old for Dawn, so the driver comes from bookworm-backports (Mesa 25):
#   1. libvulkan1 (the Vulkan loader) is installed with apt-get if missing;
#   2. a private apt configuration under DIR/apt lists bookworm-backports `main`,
#      with the same mirror and keyring as the machine's own apt sources;
#   3. `apt-get download mesa-vulkan-drivers/bookworm-backports`, `dpkg -x` into DIR/root;
#   4. the driver's shared-library needs are checked with ldd; Debian packages it
#      depends on that are missing are installed, and a library still missing or
#      too old is taken from backports into DIR/root (then LD_LIBRARY_PATH points there);
#   5. DIR/lvp_icd.json names DIR/root/.../libvulkan_lvp.so; DIR/env.sh sets
#      VK_ICD_FILENAMES (and VK_DRIVER_FILES) to it, MESA_SHADER_CACHE_DIR and
#      XDG_RUNTIME_DIR to scratch folders under DIR.
# The env lines are printed on stdout; progress goes to stderr. Safe to run again:
# a DIR that is already set up is reused as it is.
set -euo pipefail

say() { printf '[lavapipe] %s\n' "$*" >&2; }
die() { printf '[lavapipe] error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR  (DIR: where to put the driver, e.g. test-artifacts/lavapipe)"
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
ROOTFS="$DIR/root"
ENV_FILE="$DIR/env.sh"
MARK="$DIR/.ready"
ICD="$DIR/lvp_icd.json"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || SUDO="__none__"
fi
as_root() {
  if [ "$SUDO" = "__none__" ]; then die "need root (or sudo) to run: $*"; fi
  $SUDO "$@"
}

# (grep reads all its input, and awk below never exits early: with pipefail, a writer
# cut off by SIGPIPE would fail the pipeline.)
loader_present() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep 'libvulkan\.so\.1 ' >/dev/null; }
icd_library() { sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$ICD" 2>/dev/null; }

if [ -f "$MARK" ] && [ -f "$ENV_FILE" ] && [ -f "$ICD" ] && loader_present \
   && [ -f "$(icd_library)" ]; then
  say "already set up in $DIR ($(cat "$MARK"))"
  cat "$ENV_FILE"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "this script needs Debian's apt-get (it was written for Debian bookworm)"
command -v dpkg >/dev/null 2>&1 || die "this script needs dpkg"
. /etc/os-release
CODENAME="${VERSION_CODENAME:-}"
[ -n "$CODENAME" ] || die "cannot tell the Debian release from /etc/os-release"
ARCH="$(dpkg --print-architecture)"
export DEBIAN_FRONTEND=noninteractive

apt_install() {
  if ! as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    as_root apt-get update -qq >/dev/null
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# 1. The Vulkan loader, from the release itself.
if ! loader_present; then
  say "installing libvulkan1 (the Vulkan loader) with apt-get"
  apt_install libvulkan1
fi
loader_present || die "libvulkan.so.1 is still missing after installing libvulkan1"

# 2. A private apt configuration: the machine's mirror and keyring, the backports suite.
mirror=""; keyring=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # deb822 stanzas: take the first one whose Suites list the release itself.
  read -r mirror keyring < <(awk -v rel="$CODENAME" '
    function flush() { if (!done && suites ~ ("(^| )" rel "( |$)") && uris != "") { split(uris, u, " "); print u[1], (key == "" ? "-" : key); done = 1 } uris = ""; suites = ""; key = "" }
    /^[ \t]*$/ { flush(); next }
    /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
    /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
    /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); key = $0 }
    END { flush() }' "$f") || true
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  read -r mirror keyring < <(awk -v rel="$CODENAME" '
    $1 == "deb" {
      line = $0; key = "-"
      if (match(line, /signed-by=[^] \t]+/)) key = substr(line, RSTART + 10, RLENGTH - 10)
      gsub(/\[[^]]*\]/, "", line); split(line, f, " ")
      if (f[3] == rel) { print f[2], key; exit }
    }' /etc/apt/sources.list) || true
fi
[ -n "$mirror" ] || { mirror="http://deb.debian.org/debian"; keyring="-"; }
[ "$keyring" != "-" ] && [ -f "$keyring" ] || keyring="/usr/share/keyrings/debian-archive-keyring.gpg"
[ -f "$keyring" ] || die "no Debian archive keyring at $keyring (apt-get install debian-archive-keyring)"

if [ "$CODENAME" = "bookworm" ]; then SUITE="bookworm-backports"; else SUITE="$CODENAME"; fi
say "driver source: $mirror $SUITE main (keyring $keyring)"

APTDIR="$DIR/apt"
mkdir -p "$APTDIR/etc/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/debs"
cat > "$APTDIR/etc/sources.list.d/d2l-lavapipe.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE
Components: main
Architectures: $ARCH
Signed-By: $keyring
EOF
APT_OPTS=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$APTDIR/etc/sources.list.d"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache::Archives=$APTDIR/archives"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1"
  -o "Acquire::Languages=none"
)
papt() { apt-get "${APT_OPTS[@]}" "$@"; }
pcache() { apt-cache "${APT_OPTS[@]}" "$@"; }

say "reading the $SUITE package list (private apt configuration in $APTDIR)"
papt -qq update >/dev/null 2>"$APTDIR/update.log" || { cat "$APTDIR/update.log" >&2; die "apt-get update of $SUITE failed"; }

# 3. The driver package, unpacked into DIR/root.
version="$(pcache show "mesa-vulkan-drivers/$SUITE" 2>/dev/null | awk '/^Version:/ && !v { v = $2 } END { print v }')"
[ -n "$version" ] || die "mesa-vulkan-drivers is not in $SUITE"
major="${version%%.*}"; major="${major#*:}"
[ "$major" -ge 23 ] 2>/dev/null || die "mesa-vulkan-drivers in $SUITE is $version; Dawn needs Mesa 23 or newer"
say "downloading mesa-vulkan-drivers $version"
rm -f "$APTDIR"/debs/*.deb
(cd "$APTDIR/debs" && papt -qq download "mesa-vulkan-drivers/$SUITE" >/dev/null 2>"$APTDIR/download.log") \
  || { cat "$APTDIR/download.log" >&2; die "apt-get download mesa-vulkan-drivers/$SUITE failed"; }
rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
dpkg -x "$APTDIR"/debs/mesa-vulkan-drivers_*.deb "$ROOTFS"
LVP="$(find "$ROOTFS/usr/lib" -name libvulkan_lvp.so -print -quit)"
[ -n "$LVP" ] || die "libvulkan_lvp.so is not in the mesa-vulkan-drivers package"
LIBDIR="$(dirname "$LVP")"

# 4. Its shared-library needs. First the Debian packages it depends on that are not installed
# (plain runtime libraries of the release; none of them is Mesa).
missing_pkgs=()
deps="$(pcache show "mesa-vulkan-drivers=$version" | awk '/^Depends:/ && !d { sub(/^Depends:[ \t]*/, ""); d = $0 } END { print d }')"
IFS=',' read -ra dep_list <<< "$deps"
for d in "${dep_list[@]}"; do
  pkg="$(echo "$d" | sed -e 's/|.*//' -e 's/(.*//' -e 's/[[:space:]]//g')"
  [ -n "$pkg" ] || continue
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing_pkgs+=("$pkg")
done
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  say "installing libraries the driver needs: ${missing_pkgs[*]}"
  apt_install "${missing_pkgs[@]}" || say "could not install some of them; trying backports next"
fi

unresolved() { LD_LIBRARY_PATH="${EXTRA_LD:-}" ldd -r "$LVP" 2>&1 | grep -E 'not found|undefined symbol' || true; }
EXTRA_LD=""
problems="$(unresolved)"
if [ -n "$problems" ]; then
  # Libraries missing or too old: take their packages from the suite into DIR/root.
  say "unresolved after installing: $(echo "$problems" | head -3 | tr '\n' ' ')"
  for d in "${dep_list[@]}"; do
    pkg="$(echo "$d" | sed -e 's/|.*//' -e 's/(.*//' -e 's/[[:space:]]//g')"
    case "$pkg" in libc6|libgcc-s1|libstdc++6|libvulkan1|"") continue ;; esac
    if pcache show "$pkg/$SUITE" >/dev/null 2>&1; then
      (cd "$APTDIR/debs" && papt -qq download "$pkg/$SUITE" >/dev/null 2>&1) && say "took $pkg from $SUITE"
    fi
  done
  for deb in "$APTDIR"/debs/*.deb; do
    case "$deb" in */mesa-vulkan-drivers_*) ;; *) dpkg -x "$deb" "$ROOTFS" ;; esac
  done
  EXTRA_LD="$LIBDIR"
  problems="$(unresolved)"
  [ -z "$problems" ] || die "libvulkan_lvp.so still has unresolved needs:
$problems"
fi

# 5. The ICD file and the environment.
api="$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$ROOTFS/usr/share/vulkan/icd.d/lvp_icd.json" 2>/dev/null | head -1)"
printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "%s" }\n}\n' "$LVP" "${api:-1.3.0}" > "$ICD"
mkdir -p "$DIR/cache/mesa" "$DIR/run"
chmod 700 "$DIR/run"
{
  echo "export VK_ICD_FILENAMES=$ICD"
  echo "export VK_DRIVER_FILES=$ICD"
  echo "export MESA_SHADER_CACHE_DIR=$DIR/cache/mesa"
  echo "export XDG_RUNTIME_DIR=$DIR/run"
  if [ -n "$EXTRA_LD" ]; then echo "export LD_LIBRARY_PATH=$EXTRA_LD\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"; fi
} > "$ENV_FILE"
echo "mesa-vulkan-drivers $version from $SUITE" > "$MARK"
rm -rf "$APTDIR/archives" "$APTDIR/lists" "$APTDIR/debs"   # not needed again
say "ready: lavapipe from Mesa $version in $DIR; source $ENV_FILE"
cat "$ENV_FILE"
