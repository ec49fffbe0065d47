#!/usr/bin/env bash
# The GPU figures of issue 16 in one call on a lent GPU machine (one NVIDIA H100/H200, its
# own Python 3.12 with PyTorch, no Keras, no network): the guide's GAN step against the
# tuned step at batch 64 and 512, float32 and bfloat16, then with CUDA graphs.
#
#   bash bench/gpu.sh --fetch   # here, once: Keras's wheels for that Python into .whl/, MNIST into .mnist/
#   bash bench/gpu.sh           # there: device `run` with carry [".whl", ".mnist"], timeout_s 540
#
# Logs go to $OUT (the device's folder that comes back), else bench/out/gpu. For a dry
# run on the CPU: DEVICE=cpu BENCH_ARGS="--steps 2 --blocks 1 --warmup 1" bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch" ]; then
    set -e
    mkdir -p .git/info && touch .git/info/exclude
    for dir in /.whl/ /.mnist/; do grep -qxF "$dir" .git/info/exclude || echo "$dir" >>.git/info/exclude; done
    # Keras and the two of its needs the device image lacks (absl-py, h5py, ml-dtypes, numpy,
    # packaging, rich are there); versions as in this project's environment.
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
    mkdir -p .mnist && cp -f "${MNIST_DIR:-../shared/data/mnist}"/*.gz .mnist/
    ls -l .whl .mnist
    exit 0
fi

DEVICE=${DEVICE:-cuda}
LOGS=${OUT:-bench/out/gpu}
mkdir -p "$LOGS"
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1  # before any `import keras`, the check below included
if [ -d .whl ] && ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d .mnist ] && export MNIST_DIR=$PWD/.mnist
(nvidia-smi -L 2>/dev/null || echo "no nvidia-smi") | tee "$LOGS/machine.txt"
python3 -c "import torch, keras; print('torch', torch.__version__, 'keras', keras.__version__)" | tee -a "$LOGS/machine.txt"

status=0
run() {  # name, then gan_step.py's arguments; one failing leaves the others' figures
    echo "== $1" | tee -a "$LOGS/summary.txt"
    python3 bench/gan_step.py --device "$DEVICE" "${@:2}" ${BENCH_ARGS:-} 2>&1 | tee "$LOGS/$1.log" | grep -v Warning
    local rc=${PIPESTATUS[0]}
    grep '^SUMMARY' "$LOGS/$1.log" >>"$LOGS/summary.txt" || echo "$1 failed (rc=$rc)" | tee -a "$LOGS/summary.txt"
    [ "$rc" = 0 ] || status=1
}
KINDS=guide,tuned,tuned-bf16
run batch64 --batch-size 64 --kinds $KINDS
run batch512 --batch-size 512 --kinds $KINDS
run batch64-graphs --batch-size 64 --kinds $KINDS --compile  # CUDA graphs: torch.compile(mode="reduce-overhead")
cat "$LOGS/summary.txt"
exit $status
