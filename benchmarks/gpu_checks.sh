#!/usr/bin/env bash
# The device checks, in one run (see README "Measured"): full-size OLMoE-1B-7B-shaped random
# model in bf16, 1,000 samples of 512 tokens, plain forward vs grokviz capture.
set -uo pipefail
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
python3 benchmarks/bench_extract.py --full --device cuda --samples 1000 --length 512 --min-length 512 \
    --budget 16384 --repeats 2 2>&1 | grep -v "^\[transformers\]" | tee "${OUT:-/tmp}/gpu_extract.txt"
