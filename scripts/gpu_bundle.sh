#!/usr/bin/env bash
# Packs what bench/gpu_check.py needs on a GPU machine that has Python, PyTorch and CUDA 13's libraries (the
# nvidia-* wheels) but nothing of esm-onnx, and that accepts files in transfers of a limited size:
#   - the esm-onnx CLI built here (`make build`) and every shared library it loads that is not glibc's or
#     libstdc++'s (the machine's own are newer), OpenVINO's included;
#   - onnxruntime-gpu's libraries (libonnxruntime, its CUDA provider: the C API is ABI-stable, so the CLI
#     built against the CPU wheel runs on them, and looks for the CUDA provider at run time);
#   - fair-esm's wheel (the throughput peer, and the maker of the random-weight checkpoints).
# The archive (xz) is split into parts of PART_MIB (default 56) in OUT_DIR (default .gpu, which git ignores).
# docs/GPU.md says how the parts travel and how the check runs.
#
#   scripts/gpu_bundle.sh [OUT_DIR]          ESM_ONNX_ORT_GPU_VERSION (default 1.31.1: CUDA 13), PART_MIB
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT_DIR="${1:-$ROOT/.gpu}"
ORT_GPU="${ESM_ONNX_ORT_GPU_VERSION:-1.31.1}"
PART_MIB="${PART_MIB:-56}"
PY="$ROOT/.venv/bin/python"
CLI="$ROOT/build/bin/esm-onnx"

log() { printf '[gpu-bundle] %s\n' "$*"; }

[ -x "$CLI" ] || { echo "gpu_bundle: $CLI is not built: run make build" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
stage="$tmp/esm-onnx-gpu"
mkdir -p "$stage/bin" "$stage/lib" "$stage/ort" "$stage/wheels"

cp "$CLI" "$stage/bin/"
cp -L "$ROOT"/build/lib/libesm_onnx*.so.0.1 "$stage/lib/"
# The build links against the CPU wheel's library, whose OrtGetApiBase carries its release's symbol version
# (VERS_1.32.0); onnxruntime-gpu's carries its own. The requirement made weak and the symbol's version cleared,
# it binds to whichever library is loaded (the loader prints one line saying the weak version is absent): the
# C API behind it is versioned by number (ORT_API_VERSION, 21 in the headers), not by symbol.
chmod u+w "$stage"/lib/libesm_onnx*.so.0.1
for lib in "$stage"/lib/libesm_onnx*.so.0.1; do
  ver="$(objdump -T "$lib" | awk '/OrtGetApiBase/ {gsub(/[()]/, "", $(NF-1)); print $(NF-1)}')"
  [ -n "$ver" ] || continue
  "$PY" "$ROOT/scripts/elf_weak_version.py" "$lib" "$ver"
  patchelf --clear-symbol-version OrtGetApiBase "$lib"
done
# Every library the CLI and its own libraries load, but the C and C++ runtimes the GPU machine has newer.
ldd "$CLI" "$ROOT"/build/lib/libesm_onnx*.so.* | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|libgcc_s.so.*|libstdc++.so.*|ld-linux*) ;;
    libonnxruntime*|libesm_onnx*) ;;  # onnxruntime-gpu's instead; esm-onnx's own above
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done

log "onnxruntime-gpu $ORT_GPU and fair-esm from PyPI"
"$PY" -m pip download -q --no-deps -d "$tmp/dl" "onnxruntime-gpu==$ORT_GPU" "fair-esm==2.0.0"
"$PY" - "$tmp/dl" "$stage/ort" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "onnxruntime_gpu-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        base = os.path.basename(n)
        # the library and the providers the CUDA path loads from its folder (TensorRT's is not used)
        if "/capi/" in n and (base.startswith("libonnxruntime.so") or base in (
                "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so")):
            with z.open(n) as src, open(os.path.join(sys.argv[2], base), "wb") as out:
                out.write(src.read())
PY
lib="$(ls "$stage"/ort/libonnxruntime.so.1.* | head -n1)"
ln -sf "$(basename "$lib")" "$stage/ort/libonnxruntime.so.1"
cp "$tmp"/dl/fair_esm-*.whl "$stage/wheels/"
# ESM C's parity checkpoint, made here: the GPU machine's transformers may predate ESM C.
"$PY" - "$stage/esmc_small.pth" <<'PY'
import sys
sys.path.insert(0, "scripts")
import hf_checkpoints as hf
import pathlib
hf.save_esmc(hf.build_esmc("EsmcForMaskedLM", 2, 128, seed=3), pathlib.Path(sys.argv[1]), "release")
PY
# ESMFold's parity model (a small transformers folder), made here for the same reason.
"$PY" - "$stage/esmfold_small" <<'PY'
import sys
sys.path.insert(0, "tests/python")
import fold_oracle as fo
fo.save_transformers_folder(fo.make_esmfold(3), sys.argv[1])
PY

log "compressing ($(du -sh "$stage" | cut -f1) staged)"
rm -rf "$OUT_DIR"; mkdir -p "$OUT_DIR"
tar -C "$tmp" -cf - esm-onnx-gpu | xz -T0 -6 > "$tmp/bundle.tar.xz"
split -b "${PART_MIB}M" -d -a 2 "$tmp/bundle.tar.xz" "$OUT_DIR/part."
(cd "$OUT_DIR" && sha256sum part.* > SHA256SUMS)
log "$(ls "$OUT_DIR"/part.* | wc -l) parts of at most $PART_MIB MiB in $OUT_DIR ($(du -sh "$tmp/bundle.tar.xz" | cut -f1) in all)"
