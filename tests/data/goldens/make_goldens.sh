#!/bin/sh
# Regenerates the tiny random test models under tests/data/models/ and every golden here.
# Needs a built `manifold` (for make-random-model) and /usr/bin/python3 with torch and numpy.
#   tests/data/goldens/make_goldens.sh BUILD_DIR [REF_LLAMA_PY]
# The tiny models use --init-std 0.25 (not the 0.02 default) so attention is far from uniform
# and the logits spread over several units: the goldens then discriminate real bugs.
set -eu
BUILD=${1:?usage: make_goldens.sh BUILD_DIR [REF_LLAMA_PY]}
REF=${2:-/work/shared/tools/ref_llama.py}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MODELS=$ROOT/tests/data/models
for spec in tiny-llama:f32:101 tiny-gqa4:bf16:102 tiny-qwen2:f32:103 tiny-llama3:f32:104; do
  name=${spec%%:*}; rest=${spec#*:}; dtype=${rest%%:*}; seed=${rest#*:}
  "$BUILD/manifold" make-random-model --like "$name" --dtype "$dtype" --seed "$seed" \
    --init-std 0.25 --out "$MODELS/$name"
done
DEQUANTIZED=$(mktemp -d)
trap 'rm -rf "$DEQUANTIZED"' EXIT
/usr/bin/python3 "$ROOT/tests/data/models/make_compressed_tensors.py" "$ROOT" \
  --dequantized "$DEQUANTIZED"
/usr/bin/python3 "$ROOT/tests/data/goldens/make_goldens.py" "$ROOT" "$REF" "$DEQUANTIZED"
