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
    python3 -m ropecheck.conformance_table $BUILTIN $THIRD --device cuda --timeout 400 --jobs 8 \
        --out "$OUT/conformance_cuda.csv" 2>&1 | tee "$OUT/conformance.log"
    python3 -m ropecheck.bench.timer_check half-split complex-polar specs/hf-llama-compiled.toml specs/liger-rope.toml \
        --out "$OUT/timer_agreement.csv" 2>&1 | tee "$OUT/timer.log" ;;
  bench)
    python3 -m ropecheck.cli bench $BUILTIN specs/hf-llama.toml specs/hf-llama-compiled.toml specs/liger-rope.toml \
        --device cuda --out "$OUT/bench_cuda.csv" --plot "$OUT/plots" 2>&1 | tee "$OUT/bench.log"
    tar czf "$OUT/plots.tar.gz" -C "$OUT" plots && rm -r "$OUT/plots" ;;
esac
