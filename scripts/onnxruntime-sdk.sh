#!/usr/bin/env bash
# Assembles an ONNX Runtime SDK (lib/ and include/, the layout of an official release) in SDK_DIR: the
# shared libraries of the PyPI wheel and the C/C++ headers of Debian's libonnxruntime-dev from trixie (the
# C API is ABI-stable, so older headers work with a newer library). Used by scripts/bootstrap.sh and by
# the container builds.
#
#   scripts/onnxruntime-sdk.sh SDK_DIR PYTHON       PYTHON: an interpreter with pip
#
# ESM_ONNX_CUDA=1 takes onnxruntime-gpu instead (its CUDA provider libraries included; ESM_ONNX_ORT_GPU_VERSION,
# default 1.31.1, the newest onnxruntime-gpu on PyPI as of this writing).
set -euo pipefail

SDK_DIR="$1"
PY="$2"
ORT_VERSION="${ESM_ONNX_ORT_VERSION:-1.32.0}"
if [ "${ESM_ONNX_CUDA:-0}" = 1 ]; then
  PACKAGE="onnxruntime-gpu"
  ORT_VERSION="${ESM_ONNX_ORT_GPU_VERSION:-1.31.1}"
else
  PACKAGE="onnxruntime"
fi
STAMP="$PACKAGE $ORT_VERSION"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[onnxruntime-sdk] %s\n' "$*"; }

if [ -f "$SDK_DIR/.complete" ] && [ "$(cat "$SDK_DIR/.complete")" = "$STAMP" ]; then exit 0; fi

. "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"

log "assembling $PACKAGE $ORT_VERSION in $SDK_DIR"
rm -rf "$SDK_DIR"; mkdir -p "$SDK_DIR/lib" "$SDK_DIR/include"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps -d "$tmp/wheel" "$PACKAGE==$ORT_VERSION"
"$PY" - "$tmp/wheel" "$SDK_DIR/lib" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "onnxruntime*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    # libonnxruntime.so.* and, in the GPU wheel, the provider libraries it loads from its own folder.
    names = [n for n in z.namelist() if "/capi/libonnxruntime" in n and ".so" in n]
    if not any("/capi/libonnxruntime.so" in n for n in names):
        sys.exit(f"{wheel}: no libonnxruntime.so inside")
    for n in names:
        with z.open(n) as src, open(os.path.join(sys.argv[2], os.path.basename(n)), "wb") as out:
            out.write(src.read())
PY
lib="$(ls "$SDK_DIR"/lib/libonnxruntime.so.* | head -n1)"
ln -sf "$(basename "$lib")" "$SDK_DIR/lib/libonnxruntime.so"
soname="$(objdump -p "$lib" 2>/dev/null | awk '/SONAME/ {print $2}')"
ln -sf "$(basename "$lib")" "$SDK_DIR/lib/${soname:-libonnxruntime.so.1}"
mkdir -p "$tmp/apt/lists/partial" "$tmp/deb"
mirror="$(debian_mirror)"
log "Debian archive for the trixie headers: $mirror (from this machine's apt sources)"
echo "deb $mirror trixie main" > "$tmp/apt/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$tmp/apt/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$tmp/apt/lists" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
(cd "$tmp/deb" && apt-get "${apt_opts[@]}" download libonnxruntime-dev 2>/dev/null)
dpkg -x "$tmp"/deb/libonnxruntime-dev_*.deb "$tmp/x"
cp -r "$tmp/x/usr/include/onnxruntime/." "$SDK_DIR/include/"
echo "$STAMP" > "$SDK_DIR/.complete"
