#!/usr/bin/python3
"""Golden logits for the model tests, from the independent float64 reference forward
(/work/shared/tools/ref_llama.py, HF-compatible math in torch float64).

For each model and prompt, ref_llama.py runs with `--all-positions --full --top VOCAB`, so
`positions_top` holds every logit of every prompt position; they are stored as float32 rows in
<model>.logits.f32 (little-endian, [total_rows, vocab]) and described by <model>.json:
  {"model": dir relative to the repo root, "vocab_size": V, "generator": ...,
   "cases": [{"name", "prompt_ids", "row_offset", "num_rows", "last_logsumexp",
              "greedy_ids"}]}
Row r of a case is the logits after prompt_ids[0..r]. float32 storage loses ~6e-8 relative,
far below the tests' tolerance (1e-4 x logit range).

The INT8 compressed-tensors checkpoint stories260K-w8a8 (make_compressed_tensors.py) is
referenced through its dequantized F32 twin (weights q * scale exactly), given as
DEQUANTIZED_DIR: the goldens are the float64 forward of the quantized weights, so the tests
bound only what the runtime adds (activation quantization, BF16 KV cache).

usage: make_goldens.py REPO_ROOT REF_LLAMA_PY [DEQUANTIZED_DIR]
"""
import json, os, random, subprocess, sys

import numpy as np


def stories_cases(repo):
    ref = json.load(open(os.path.join(repo, "models/stories260K/reference_outputs.json")))
    return [(c["name"], c["prompt_ids"]) for c in ref["cases"]]


def random_cases(vocab, lengths, seed):
    rng = random.Random(seed)
    return [("random_%d" % n, [1] + [rng.randrange(3, vocab) for _ in range(n - 1)])
            for n in lengths]


MODELS = [
    # (golden name, model dir relative to the repo root, cases builder, greedy tokens)
    ("stories260K", "models/stories260K", stories_cases, 0),
    ("tiny-llama", "tests/data/models/tiny-llama", lambda r: random_cases(512, [1, 17, 40], 11), 8),
    ("tiny-gqa4", "tests/data/models/tiny-gqa4", lambda r: random_cases(384, [1, 16, 33], 12), 8),
    ("tiny-qwen2", "tests/data/models/tiny-qwen2", lambda r: random_cases(400, [2, 17, 40], 13), 8),
    ("tiny-llama3", "tests/data/models/tiny-llama3",
     lambda r: random_cases(512, [3, 31, 100], 14), 8),
    ("stories260K-w8a8", "tests/data/models/stories260K-w8a8", stories_cases, 0),
]


def main():
    repo, ref_llama = sys.argv[1], sys.argv[2]
    dequantized_dir = sys.argv[3] if len(sys.argv) > 3 else None
    out_dir = os.path.join(repo, "tests/data/goldens")
    for name, model_rel, cases_fn, greedy in MODELS:
        model_dir = os.path.join(repo, model_rel)
        if name.endswith("-w8a8"):
            if dequantized_dir is None:
                print("skipping", name, "(no DEQUANTIZED_DIR)")
                continue
            model_dir = dequantized_dir
        vocab = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
        rows, cases = [], []
        for case_name, ids in cases_fn(repo):
            cmd = [sys.executable, ref_llama, model_dir, "--ids", ",".join(map(str, ids)),
                   "--all-positions", "--full", "--top", str(vocab), "--greedy", str(greedy)]
            res = json.loads(subprocess.check_output(cmd))
            block = np.zeros((len(ids), vocab), dtype=np.float64)
            for pos, top in enumerate(res["positions_top"]):
                for token, value in top:
                    block[pos, token] = value
            # The full last vector must agree with the per-position top list.
            assert np.array_equal(block[-1], np.array(res["last_logits"]))
            cases.append({"name": case_name, "prompt_ids": ids, "row_offset": len(rows),
                          "num_rows": len(ids), "last_logsumexp": res["last_logsumexp"],
                          "greedy_ids": res["greedy_ids"]})
            rows.extend(block)
        np.asarray(rows, dtype="<f4").tofile(os.path.join(out_dir, name + ".logits.f32"))
        meta = {"model": model_rel, "vocab_size": vocab,
                "generator": "ref_llama.py --all-positions --full --top VOCAB (float64)",
                "cases": cases}
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        print(name, len(rows), "rows")


if __name__ == "__main__":
    main()
