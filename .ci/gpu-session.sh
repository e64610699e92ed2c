#!/usr/bin/env bash
# The GPU machine's share of ropecheck's results, run there through the device tool:
#   bash .ci/gpu-session.sh conformance|bench     (carry .whl: liger-kernel's wheel)
# Writes under $OUT; the tables are then committed to results/.
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu-$1.txt"
python3 -c "import torch, triton, transformers, hypothesis, liger_kernel; print('torch', torch.__version__, 'triton', triton.__version__, 'transformers', transformers.__version__, 'hypothesis', hypothesis.__version__)" | tee -a "$OUT/gpu-$1.txt"
BUILTIN="specs/dense-matrix.toml specs/sparse-elementwise.toml specs/complex-polar.toml specs/interleaved.toml specs/half-split.toml"
THIRD="specs/hf-llama.toml specs/hf-gpt-neox.toml specs/hf-gptj.toml specs/hf-llama-compiled.toml specs/liger-rope.toml"
case "$1" in
  conformance)
    # one thread per checking process: eight of them share 16 cores (left to default,
    # each took 16 and the run crawled: 4 verifications in 330 s instead of 38 in 150 s)
    export TORCHINDUCTOR_COMPILE_THREADS=1 OMP_NUM_THREADS=1
    timeout "${CONFORMANCE_S:-330}" python3 -m ropecheck.conformance_table $BUILTIN $THIRD --device cuda --timeout 150 \
        --jobs 12 --out "$OUT/conformance_cuda.csv" 2>&1 | tee "$OUT/conformance.log"
    pkill -9 -f ropecheck.worker  # checking processes run in their own sessions: none may outlive a cut-off
    timeout 60 python3 -m ropecheck.bench.timer_check half-split complex-polar specs/liger-rope.toml \
        --out "$OUT/timer_agreement.csv" 2>&1 | tee "$OUT/timer.log" ;;
  bench)
    python3 -m ropecheck.cli bench $BUILTIN specs/hf-llama.toml specs/hf-llama-compiled.toml specs/liger-rope.toml \
        --device cuda --out "$OUT/bench_cuda.csv" --plot "$OUT/plots" 2>&1 | tee "$OUT/bench.log"
    tar czf "$OUT/plots.tar.gz" -C "$OUT" plots && rm -r "$OUT/plots" ;;
esac
