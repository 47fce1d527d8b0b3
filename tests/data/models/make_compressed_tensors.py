#!/usr/bin/python3
"""Writes stories260K as an INT8 W8A8 compressed-tensors checkpoint, the layout llm-compressor
gives a model quantized with its W8A8 scheme (int8 weights per output channel, symmetric;
dynamic per-token int8 activations; lm_head ignored):

  config.json        + "quantization_config" {"quant_method": "compressed-tensors",
                       "format": "int-quantized", "config_groups": {"group_0": ...},
                       "ignore": ["lm_head"]}
  model.safetensors  every q/k/v/o/gate/up/down_proj "weight" as I8 [n, k] and its
                     "weight_scale" as F32 [n, 1]; the embedding and norms as stored (F32)

Quantization as llm-compressor's symmetric int8 observer: scale = max |row| / 127.5,
q = clamp(round(w / scale), -128, 127), so rows use -128 and clamp at 127.

With --dequantized DIR it also writes the F32 model whose weights are q * scale exactly, which
ref_llama.py reads for the goldens (make_goldens.py).

usage: make_compressed_tensors.py REPO_ROOT [--dequantized DIR]
"""
import json, os, shutil, struct, sys

import numpy as np

QUANTIZED = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DTYPES = {"F32": np.float32, "I8": np.int8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int8): "I8"}[t.dtype]
        raw = t.astype(t.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def quantize(w):
    w = w.astype(np.float64)
    scale = (np.abs(w).max(axis=1, keepdims=True) / 127.5).astype(np.float32)
    q = np.clip(np.round(w / scale.astype(np.float64)), -128, 127).astype(np.int8)
    return q, scale


def main():
    repo = sys.argv[1]
    dequantized_dir = sys.argv[sys.argv.index("--dequantized") + 1] if "--dequantized" in sys.argv else None
    src = os.path.join(repo, "models/stories260K")
    dst = os.path.join(repo, "tests/data/models/stories260K-w8a8")
    os.makedirs(dst, exist_ok=True)
    tensors = read_safetensors(os.path.join(src, "model.safetensors"))
    quantized, dequantized = {}, {}
    for name, t in tensors.items():
        if name.endswith(".weight") and name.split(".")[-2] in QUANTIZED:
            q, scale = quantize(t)
            quantized[name] = q
            quantized[name + "_scale"] = scale
            dequantized[name] = q.astype(np.float32) * scale  # exact: 8 x 24 bits in F32
        else:
            quantized[name] = t
            dequantized[name] = t
    write_safetensors(os.path.join(dst, "model.safetensors"), quantized)
    config = json.load(open(os.path.join(src, "config.json")))
    int8 = {"num_bits": 8, "type": "int", "symmetric": True, "group_size": None,
            "actorder": None, "block_structure": None, "observer_kwargs": {}}
    config["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": "int-quantized",
        "quantization_status": "compressed", "kv_cache_scheme": None, "ignore": ["lm_head"],
        "config_groups": {"group_0": {
            "targets": ["Linear"], "output_activations": None,
            "weights": dict(int8, strategy="channel", dynamic=False, observer="minmax"),
            "input_activations": dict(int8, strategy="token", dynamic=True,
                                      observer="memoryless")}}}
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for name in ("generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "LICENSE-MIT-llama2.c.txt"):
        shutil.copy(os.path.join(src, name), dst)
    if dequantized_dir:
        os.makedirs(dequantized_dir, exist_ok=True)
        write_safetensors(os.path.join(dequantized_dir, "model.safetensors"), dequantized)
        del config["quantization_config"]
        with open(os.path.join(dequantized_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
    print("wrote", dst)


if __name__ == "__main__":
    main()
