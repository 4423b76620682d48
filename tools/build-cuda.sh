#!/usr/bin/env bash
# Build the `siglens` CLI with Candle's CUDA backend on a machine that has no CUDA toolkit
# and no GPU. NVIDIA publishes nvcc, the headers and the libraries as PyPI wheels; they are
# installed into a venv and laid out so that cudarc's and candle-kernels' build scripts find
# them. The binary links libcuda.so.1, libcublas(Lt).so.13, libcurand.so.10, libnvrtc.so.13
# and libcudart.so.13 dynamically: the GPU machine supplies them (driver + CUDA 13 runtime).
#
#   bash tools/build-cuda.sh            # -> $CARGO_TARGET_DIR/release/siglens (+ siglens.xz)
#
# Environment (all optional):
#   SIGLENS_CUDA_VENV   venv for the wheels          (default /tmp/siglens-cuda-venv)
#   CARGO_TARGET_DIR    its own target dir           (default <repo>/target/cuda)
#   CUDA_COMPUTE_CAP    GPU generation for the PTX   (default 90 = Hopper, H100/H200)
#   SIGLENS_CUDA_XZ=0   skip the xz-compressed copy  (made so it fits a 64 MiB transfer)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${SIGLENS_CUDA_VENV:-/tmp/siglens-cuda-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/cuda}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

# CUDA 13.0 exactly: the kernels are PTX that the driver compiles at load, and a driver
# only reads PTX from its own CUDA version or older (the H200 machines run driver 580 =
# CUDA 13.0; a 13.1+ nvcc would emit PTX it rejects). cudarc also picks its API from
# `nvcc --version`. nvcc's own dependencies (nvvm = the device compiler, crt) must be
# pinned too: unpinned, pip takes the newest, whose PTX (.version 9.5) the 13.0 ptxas
# refuses ("Unsupported .version 9.5; current version is '9.0'").
wheels=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-nvrtc==13.0.88
  nvidia-cublas==13.0.2.14
  nvidia-curand==10.4.0.35
)

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "${wheels[@]}"

cuda_root=$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
[ -x "$cuda_root/bin/nvcc" ] || { echo "no nvcc under $cuda_root" >&2; exit 1; }

# The wheels ship only versioned sonames (libcublas.so.13); the linker wants libcublas.so.
lib=$cuda_root/lib
for so in "$lib"/lib{cudart,cublas,cublasLt,nvrtc}.so.13 "$lib"/libcurand.so.10; do
  ln -sf "$(basename "$so")" "${so%.so.*}.so"
done

# libcuda.so is the driver and is in no wheel. Link against a stub with the same soname
# (libcuda.so.1) that defines every driver entry point cudarc declares; at run time the
# real driver's library is loaded instead. (CUDA toolkits ship such a stub in lib/stubs.)
stubs=$lib/stubs
if [ ! -f "$stubs/libcuda.so" ]; then
  mkdir -p "$stubs"
  cudarc=$(cd "$repo" && cargo metadata --format-version 1 --features siglens-cli/cuda 2>/dev/null |
    "$venv/bin/python" -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="cudarc"))')
  grep -ohE "pub (unsafe )?fn cu[A-Za-z0-9_]+" "$cudarc/src/driver/sys/mod.rs" |
    awk '{print "void " $NF "(void) {}"}' | sort -u >"$stubs/libcuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$stubs/libcuda_stub.c"
fi

export PATH=$cuda_root/bin:$PATH
export CUDA_ROOT=$cuda_root CUDA_PATH=$cuda_root CUDA_HOME=$cuda_root
# nvcc runs the host compiler through its own include/lib dirs; build scripts link with these.
export LIBRARY_PATH=$lib:$stubs${LIBRARY_PATH:+:$LIBRARY_PATH}
echo "nvcc: $(nvcc --version | tail -2 | head -1)   compute cap: $CUDA_COMPUTE_CAP   target: $CARGO_TARGET_DIR"

cd "$repo"
cargo build --release -p siglens-cli --features cuda "$@"

bin=$CARGO_TARGET_DIR/release/siglens
strip "$bin"
if [ "${SIGLENS_CUDA_XZ:-1}" != 0 ]; then
  xz -T0 -6 -k -f "$bin"
fi
ls -l "$bin"*
echo "run it with the GPU machine's CUDA 13 libraries on LD_LIBRARY_PATH; ldd $bin lists them"
