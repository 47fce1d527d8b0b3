#include "engine/model/llama_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/loader/model_tensors.h"
#include "kernels/rope_table.h"

namespace manifold {

namespace {

bool isAligned(const void* data, size_t alignment) {
  return reinterpret_cast<uintptr_t>(data) % alignment == 0;
}

// Converting `from` to `to` can overflow to infinity (F32 to BF16 or F16, BF16 to F16).
bool narrows(DType from, DType to) {
  return (from == DType::kF32 && to != DType::kF32) || (from == DType::kBF16 && to == DType::kF16);
}

// Elements converted per host chunk when a weight changes dtype at load.
constexpr size_t kConvertChunk = 1 << 20;

float loadElement(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::kF32:
      return static_cast<const float*>(data)[i];
    case DType::kBF16:
      return bf16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kF16:
      return f16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kI8:
      return static_cast<const int8_t*>(data)[i];
  }
  return 0.0f;
}

// dst[i] = src[i] converted, for i in [0, n). dst holds n elements of dst_dtype.
void convertElements(const void* src, DType src_dtype, size_t n, void* dst, DType dst_dtype) {
  for (size_t i = 0; i < n; ++i) {
    const float value = loadElement(src, src_dtype, i);
    switch (dst_dtype) {
      case DType::kF32:
        static_cast<float*>(dst)[i] = value;
        break;
      case DType::kBF16:
        static_cast<uint16_t*>(dst)[i] = f32ToBf16(value);
        break;
      case DType::kF16:
        static_cast<uint16_t*>(dst)[i] = f32ToF16(value);
        break;
      case DType::kI8:  // weights are quantized by the backend, never converted to I8 here
        break;
    }
  }
}

kernels::RopeScaling toKernelScaling(const RopeScaling& scaling) {
  kernels::RopeScaling out;
  switch (scaling.type) {
    case RopeScalingType::kNone:
      out.type = kernels::RopeScalingType::kNone;
      break;
    case RopeScalingType::kLinear:
      out.type = kernels::RopeScalingType::kLinear;
      break;
    case RopeScalingType::kLlama3:
      out.type = kernels::RopeScalingType::kLlama3;
      break;
  }
  out.factor = scaling.factor;
  out.low_freq_factor = scaling.low_freq_factor;
  out.high_freq_factor = scaling.high_freq_factor;
  out.original_max_position_embeddings = static_cast<int>(scaling.original_max_position_embeddings);
  return out;
}

// The F32 scales of the I8 weight `weight_name` [rows, k] of a quantized checkpoint: its
// "weight_scale" sibling, per row ([rows, 1] or [rows]) or per tensor ([1] or [], repeated), in
// any float dtype. Errors name the tensor; a scale that is negative, infinite or NaN is corrupt.
Result<std::vector<float>> readWeightScales(const WeightStore& weights,
                                            const std::string& weight_name, int64_t rows) {
  const std::string name = weight_name + "_scale";
  if (!weights.contains(name)) {
    return notFound("tensor \"" + name + "\" (the scale of the I8 weight \"" + weight_name +
                    "\") is missing");
  }
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{rows, 1}, {rows}, {1}, std::vector<int64_t>{}}) {
    Result<TensorView> scale = weights.get(name, shape);
    if (!scale.isOk()) continue;
    const bool per_row = scale->numel() == rows;
    std::vector<float> values(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      values[r] = loadElement(scale->data, scale->dtype, per_row ? r : 0);
      if (!(values[r] >= 0.0f && values[r] <= std::numeric_limits<float>::max())) {
        return dataLoss("tensor \"" + name + "\": the scale of row " + std::to_string(r) +
                        " is not a finite non-negative number");
      }
    }
    return values;
  }
  return invalidArgument("tensor \"" + name + "\" must have shape [" + std::to_string(rows) +
                         ", 1], [" + std::to_string(rows) + "], [1] or [] (per row or per tensor)");
}

}  // namespace

Result<kernels::DeviceBuffer> LlamaModel::copyToBackend(const std::vector<TensorView>& parts,
                                                         DType dtype) {
  size_t numel = 0;
  for (const TensorView& part : parts) numel += static_cast<size_t>(part.numel());
  ASSIGN_OR_RETURN(kernels::DeviceBuffer buffer, backend_.allocate(numel * dtypeSize(dtype)));
  uint8_t* dst = buffer.as<uint8_t>();
  std::vector<uint8_t> staging;
  for (const TensorView& part : parts) {
    const size_t n = static_cast<size_t>(part.numel());
    if (part.dtype == dtype) {
      backend_.copyToDevice(dst, part.data, part.nbytes);
    } else {
      staging.resize(std::min(n, kConvertChunk) * dtypeSize(dtype));
      for (size_t done = 0; done < n; done += kConvertChunk) {
        const size_t count = std::min(kConvertChunk, n - done);
        const auto* src = static_cast<const uint8_t*>(part.data) + done * dtypeSize(part.dtype);
        convertElements(src, part.dtype, count, staging.data(), dtype);
        backend_.copyToDevice(dst + done * dtypeSize(dtype), staging.data(),
                              count * dtypeSize(dtype));
      }
    }
    dst += n * dtypeSize(dtype);
  }
  return buffer;
}

Result<kernels::WeightView> LlamaModel::place(const std::vector<TensorView>& parts, DType dtype,
                                              bool count) {
  size_t numel = 0;
  for (const TensorView& part : parts) numel += static_cast<size_t>(part.numel());
  if (count) {
    num_parameters_ += static_cast<int64_t>(numel);
    weight_bytes_ += numel * dtypeSize(dtype);
  }
  // In place, from the mmap, when the file's bytes are aligned for their type (a header length
  // that is not a multiple of 8, which the format allows, misaligns every tensor).
  if (mmap_weights_ && parts.size() == 1 && parts[0].dtype == dtype && backend_.hostAddressable() &&
      isAligned(parts[0].data, dtypeSize(dtype))) {
    in_place_bytes_ += parts[0].nbytes;
    return kernels::WeightView{parts[0].data, dtype};
  }
  ASSIGN_OR_RETURN(kernels::DeviceBuffer buffer, copyToBackend(parts, dtype));
  copied_bytes_ += buffer.bytes();
  kernels::WeightView view{buffer.data(), dtype};
  owned_.push_back(std::move(buffer));
  return view;
}

Result<kernels::WeightView> LlamaModel::placeMatrix(const WeightStore& weights,
                                                    const std::vector<TensorView>& parts,
                                                    DType dtype, int64_t n, int64_t k, bool count) {
  // A quantized checkpoint's I8 matrix keeps its values and scales; float ones are quantized
  // here only for --quantization.
  const auto quantized_part = std::find_if(
      parts.begin(), parts.end(), [](const TensorView& part) { return part.dtype == DType::kI8; });
  const bool prequantized = quantized_part != parts.end();
  const bool int8 =
      prequantized || (quantization_ != Quantization::kNone && !checkpoint_quantized_);
  std::vector<float> scales;
  if (prequantized) {
    for (const TensorView& part : parts) {
      if (part.dtype != DType::kI8) {
        return invalidArgument("tensor \"" + part.name + "\" is " +
                               std::string(dtypeName(part.dtype)) + ", but \"" +
                               quantized_part->name +
                               "\", fused with it, is I8: the quantized checkpoint quantizes one "
                               "and not the other");
      }
      ASSIGN_OR_RETURN(const std::vector<float> part_scales,
                       readWeightScales(weights, part.name, part.shape[0]));
      scales.insert(scales.end(), part_scales.begin(), part_scales.end());
    }
  }
  const size_t packed_bytes =
      int8 ? backend_.packedInt8MatmulWeightBytes(quantization_, static_cast<int>(n),
                                                  static_cast<int>(k))
           : backend_.packedMatmulWeightBytes(dtype, static_cast<int>(n), static_cast<int>(k));
  if (packed_bytes == 0 && prequantized) {
    return unimplemented("tensor \"" + parts[0].name + "\": the " + std::string(backend_.name()) +
                         " backend has no INT8 matmul for this shape");
  }
  if (int8 && packed_bytes == 0) {
    // No INT8 form for this shape: kept float, as `dtype`, so a narrowing conversion must keep
    // every value finite (the loader checked only the source's values of a matrix to quantize).
    for (const TensorView& part : parts) {
      if (narrows(part.dtype, dtype)) RETURN_IF_ERROR(weights.checkFinite(part, dtype));
    }
  }
  if (packed_bytes == 0) return place(parts, dtype, count);
  if (count) {
    num_parameters_ += n * k;
    weight_bytes_ += int8 ? packed_bytes : static_cast<size_t>(n * k) * dtypeSize(dtype);
  }
  // The row-major matrix, read in place when the file already holds it, else a temporary copy.
  // INT8 is quantized from the checkpoint's own values, whatever dtype it is in.
  const DType source = int8 ? parts[0].dtype : dtype;
  kernels::WeightView row_major{parts[0].data, source};
  kernels::DeviceBuffer staging;
  const bool same_dtype = std::all_of(parts.begin(), parts.end(),
                                      [&](const TensorView& part) { return part.dtype == source; });
  if (parts.size() != 1 || !same_dtype || !backend_.hostAddressable() ||
      !isAligned(parts[0].data, dtypeSize(source))) {
    ASSIGN_OR_RETURN(staging, copyToBackend(parts, source));
    row_major.data = staging.data();
  }
  ASSIGN_OR_RETURN(kernels::DeviceBuffer packed, backend_.allocate(packed_bytes));
  const int rows = static_cast<int>(n), cols = static_cast<int>(k);
  const kernels::WeightView view =
      int8 ? backend_.packMatmulWeightInt8(quantization_, row_major,
                                           prequantized ? scales.data() : nullptr, rows, cols,
                                           packed.data())
           : backend_.packMatmulWeight(row_major, rows, cols, packed.data());
  copied_bytes_ += packed.bytes();
  owned_.push_back(std::move(packed));
  return view;
}

Status LlamaModel::loadWeights(const WeightStore& weights, std::optional<DType> weight_dtype,
                               const LoadProgressCallback& on_progress) {
  const ModelConfig& c = config_;
  // Checkpoint bytes fetched so far. Tensors the model does not use (none in a plain HF
  // checkpoint) are never fetched; the last event reports the whole store anyway.
  const uint64_t total_bytes = weights.totalBytes();
  uint64_t read_bytes = 0;
  auto report = [&](uint64_t done) {
    if (on_progress) {
      on_progress(
          LoadProgress{LoadProgress::Stage::kWeights, std::min(done, total_bytes), total_bytes});
    }
  };
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  // Every float tensor used is checked for NaN and infinity on the way (a corrupt checkpoint
  // would otherwise load and sample token 0 for ever): one more read of the file, at page-cache
  // speed, against the copy and packing that follow.
  ASSIGN_OR_RETURN(TensorView embed, weights.get("model.embed_tokens.weight", {c.vocab_size, H}));
  read_bytes += embed.nbytes;
  weight_dtype_ = weight_dtype.value_or(embed.dtype);
  const DType matrix = weight_dtype_;
  // Stored in a narrower dtype, the values must also fit its range: a value past it would turn
  // into inf, and the model's output into NaN (one scan checks both).
  RETURN_IF_ERROR(weights.checkFinite(embed, matrix));
  const bool quantized = quantization_ != Quantization::kNone;
  if (quantized && backend_.packedInt8MatmulWeightBytes(quantization_, static_cast<int>(H),
                                                        static_cast<int>(H)) == 0) {
    return unimplemented(
        "quantization " + std::string(quantizationName(quantization_)) +
        (checkpoint_quantized_ ? " (the checkpoint's)" : "") + " is not available on the " +
        std::string(backend_.name()) + " backend here (it needs the CPU backend on a CPU with " +
        (quantization_ == Quantization::kInt8 ? "AVX-512 BF16, with BF16 dot products on)"
                                              : "AVX-512 VNNI)"));
  }
  // Norms and biases are tiny: kept in F32 whatever the matrices use.
  const DType vector = DType::kF32;
  auto get = [&](const std::string& name, std::vector<int64_t> shape,
                 std::optional<DType> stored_as = std::nullopt) -> Result<TensorView> {
    ASSIGN_OR_RETURN(TensorView view, weights.get(name, shape));
    RETURN_IF_ERROR(weights.checkFinite(view, stored_as));
    read_bytes += view.nbytes;
    return view;
  };
  // --quantization quantizes the matrices and the LM head; a quantized checkpoint's head stays as
  // stored (float).
  const bool quantize_at_load = quantized && !checkpoint_quantized_;
  // A matmul weight: float, or in a quantized checkpoint I8 with its scale (which the checkpoint
  // may leave out of its quantization: then float).
  int int8_matrices = 0;  // of a quantized checkpoint's layer matrices
  auto getMatrix = [&](const std::string& name, std::vector<int64_t> shape) -> Result<TensorView> {
    if (checkpoint_quantized_) {
      Result<TensorView> q = weights.getInt8(name, shape);
      if (q.isOk()) {
        read_bytes += q.value().nbytes;
        ++int8_matrices;
        return q;
      }
    }
    // Stored as `matrix` unless --quantization quantizes it from these values (placeMatrix
    // checks the shapes that fall back to `matrix`).
    return get(name, shape, quantize_at_load ? std::nullopt : std::optional<DType>(matrix));
  };

  const bool head_packed =
      quantize_at_load || backend_.packedMatmulWeightBytes(matrix, static_cast<int>(c.vocab_size),
                                                           static_cast<int>(H)) > 0;
  // Tied and quantized, the weight the kernels stream is the INT8 head: that one is counted.
  const bool count_head = c.tie_word_embeddings && quantize_at_load;
  ASSIGN_OR_RETURN(embed_, place({embed}, matrix, /*count=*/!count_head));
  report(read_bytes);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LlamaLayerWeights layer;
    auto name = [&](std::string_view suffix) { return layerTensorName(l, suffix); };
    ASSIGN_OR_RETURN(TensorView in_norm, get(name("input_layernorm.weight"), {H}));
    ASSIGN_OR_RETURN(layer.input_norm, place({in_norm}, vector));
    ASSIGN_OR_RETURN(TensorView q, getMatrix(name("self_attn.q_proj.weight"), {q_dim, H}));
    ASSIGN_OR_RETURN(TensorView k, getMatrix(name("self_attn.k_proj.weight"), {kv_dim, H}));
    ASSIGN_OR_RETURN(TensorView v, getMatrix(name("self_attn.v_proj.weight"), {kv_dim, H}));
    ASSIGN_OR_RETURN(layer.qkv, placeMatrix(weights, {q, k, v}, matrix, q_dim + 2 * kv_dim, H));
    if (c.qkv_bias) {
      ASSIGN_OR_RETURN(TensorView qb, get(name("self_attn.q_proj.bias"), {q_dim}));
      ASSIGN_OR_RETURN(TensorView kb, get(name("self_attn.k_proj.bias"), {kv_dim}));
      ASSIGN_OR_RETURN(TensorView vb, get(name("self_attn.v_proj.bias"), {kv_dim}));
      ASSIGN_OR_RETURN(layer.qkv_bias, place({qb, kb, vb}, vector));
    }
    ASSIGN_OR_RETURN(TensorView o, getMatrix(name("self_attn.o_proj.weight"), {H, q_dim}));
    ASSIGN_OR_RETURN(layer.o_proj, placeMatrix(weights, {o}, matrix, H, q_dim));
    if (c.o_proj_bias) {
      ASSIGN_OR_RETURN(TensorView ob, get(name("self_attn.o_proj.bias"), {H}));
      ASSIGN_OR_RETURN(layer.o_bias, place({ob}, vector));
    }
    ASSIGN_OR_RETURN(TensorView post_norm, get(name("post_attention_layernorm.weight"), {H}));
    ASSIGN_OR_RETURN(layer.post_norm, place({post_norm}, vector));
    ASSIGN_OR_RETURN(TensorView gate, getMatrix(name("mlp.gate_proj.weight"), {I, H}));
    ASSIGN_OR_RETURN(TensorView up, getMatrix(name("mlp.up_proj.weight"), {I, H}));
    ASSIGN_OR_RETURN(layer.gate_up, placeMatrix(weights, {gate, up}, matrix, 2 * I, H));
    ASSIGN_OR_RETURN(TensorView down, getMatrix(name("mlp.down_proj.weight"), {H, I}));
    ASSIGN_OR_RETURN(layer.down, placeMatrix(weights, {down}, matrix, H, I));
    if (c.mlp_bias) {
      ASSIGN_OR_RETURN(TensorView gb, get(name("mlp.gate_proj.bias"), {I}));
      ASSIGN_OR_RETURN(TensorView ub, get(name("mlp.up_proj.bias"), {I}));
      ASSIGN_OR_RETURN(layer.gate_up_bias, place({gb, ub}, vector));
      ASSIGN_OR_RETURN(TensorView db, get(name("mlp.down_proj.bias"), {H}));
      ASSIGN_OR_RETURN(layer.down_bias, place({db}, vector));
    }
    layer.sliding_window = static_cast<int>(c.slidingWindowForLayer(l));
    layers_.push_back(layer);
    report(read_bytes);
  }
  // Layers the checkpoint leaves float (its `ignore` list) stay float, but a quantization_config
  // over no INT8 weight at all describes another checkpoint: refuse it rather than claim INT8.
  if (checkpoint_quantized_ && int8_matrices == 0) {
    return invalidArgument(
        "config.json's quantization_config declares INT8 (compressed-tensors) Linear weights, but "
        "no layer weight in the checkpoint is I8");
  }
  ASSIGN_OR_RETURN(TensorView norm, get("model.norm.weight", {H}));
  ASSIGN_OR_RETURN(final_norm_, place({norm}, vector));
  if (c.tie_word_embeddings) {
    // The embedding gathers rows of the row-major table; the LM head reads it packed, if the
    // backend packs, from a second copy (counted once: the INT8 head, else the embedding).
    if (head_packed) {
      ASSIGN_OR_RETURN(lm_head_,
                       placeMatrix(weights, {embed}, matrix, c.vocab_size, H, count_head));
    } else {
      lm_head_ = embed_;
    }
  } else {
    ASSIGN_OR_RETURN(TensorView head, getMatrix("lm_head.weight", {c.vocab_size, H}));
    ASSIGN_OR_RETURN(lm_head_, placeMatrix(weights, {head}, matrix, c.vocab_size, H));
  }
  report(total_bytes);
  return Status::ok();
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(
    kernels::Backend& backend, const ModelConfig& config, const WeightStore& weights,
    std::optional<DType> weight_dtype, Quantization quantization, int max_num_tokens,
    int max_positions, bool mmap_weights, const LoadProgressCallback& on_progress) {
  std::unique_ptr<LlamaModel> model(new LlamaModel(backend, config));
  model->mmap_weights_ = mmap_weights;
  model->quantization_ = quantization;
  if (config.checkpoint_quantization != Quantization::kNone) {
    // The checkpoint's INT8 weights decide; --quantization may only repeat it.
    if (quantization != Quantization::kNone && quantization != config.checkpoint_quantization) {
      return invalidArgument("the checkpoint is quantized (compressed-tensors, " +
                             std::string(quantizationName(config.checkpoint_quantization)) +
                             "): --quantization " + std::string(quantizationName(quantization)) +
                             " does not apply (leave it none)");
    }
    model->quantization_ = config.checkpoint_quantization;
    model->checkpoint_quantized_ = true;
  }
  RETURN_IF_ERROR(model->loadWeights(weights, weight_dtype, on_progress));
  const int head_dim = static_cast<int>(config.head_dim);
  const std::vector<float> table = kernels::buildRopeTable(
      head_dim, config.rope_theta, toKernelScaling(config.rope_scaling), max_positions);
  ASSIGN_OR_RETURN(model->rope_table_, backend.allocate(table.size() * sizeof(float)));
  backend.copyToDevice(model->rope_table_.data(), table.data(), table.size() * sizeof(float));

  const size_t rows = static_cast<size_t>(max_num_tokens);
  const size_t H = config.hidden_size, I = config.intermediate_size;
  const size_t q_dim = config.num_attention_heads * config.head_dim;
  const size_t qkv_dim = q_dim + 2 * config.num_key_value_heads * config.head_dim;
  LlamaWorkspace& ws = model->ws_;
  auto alloc = [&](kernels::DeviceBuffer& buffer, size_t floats) -> Status {
    ASSIGN_OR_RETURN(buffer, backend.allocate(rows * floats * sizeof(float)));
    return Status::ok();
  };
  RETURN_IF_ERROR(alloc(ws.hidden, H));
  RETURN_IF_ERROR(alloc(ws.residual, H));
  RETURN_IF_ERROR(alloc(ws.qkv, qkv_dim));
  RETURN_IF_ERROR(alloc(ws.attn, q_dim));
  RETURN_IF_ERROR(alloc(ws.proj, H));
  RETURN_IF_ERROR(alloc(ws.gate_up, 2 * I));
  RETURN_IF_ERROR(alloc(ws.act, I));
  RETURN_IF_ERROR(alloc(ws.final_x, H));
  RETURN_IF_ERROR(alloc(ws.final_res, H));
  model->max_num_tokens_ = max_num_tokens;
  return model;
}

void LlamaModel::forward(const kernels::AttentionPlan& plan, const int32_t* token_ids,
                         const int32_t* logits_rows, int num_logits_rows, const KvCachePool& kv,
                         float* logits) {
  const ModelConfig& c = config_;
  const int T = plan.numTokens();
  assert(T > 0 && T <= max_num_tokens_);
  const int H = static_cast<int>(c.hidden_size);
  const int I = static_cast<int>(c.intermediate_size);
  const int num_heads = static_cast<int>(c.num_attention_heads);
  const int num_kv_heads = static_cast<int>(c.num_key_value_heads);
  const int head_dim = static_cast<int>(c.head_dim);
  const int q_dim = num_heads * head_dim;
  const int kv_dim = num_kv_heads * head_dim;
  const int qkv_dim = q_dim + 2 * kv_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  kernels::Backend& b = backend_;
  float* hidden = ws_.hidden.as<float>();      // [T, H]
  float* residual = ws_.residual.as<float>();  // [T, H]
  float* qkv = ws_.qkv.as<float>();            // [T, qkv_dim]
  float* attn = ws_.attn.as<float>();          // [T, q_dim]
  float* proj = ws_.proj.as<float>();          // [T, H]
  float* gate_up = ws_.gate_up.as<float>();    // [T, 2 * I]
  float* act = ws_.act.as<float>();            // [T, I]
  const float* rope_table = rope_table_.as<float>();

  b.embedding(token_ids, T, embed_, H, residual);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LlamaLayerWeights& w = layers_[l];
    if (l == 0) {
      b.rmsNorm(residual, w.input_norm, T, H, eps, hidden);
    } else {
      b.addRmsNorm(proj, residual, w.input_norm, T, H, eps, hidden);
    }
    b.matmul(hidden, T, H, w.qkv, qkv_dim, w.qkv_bias, qkv);
    float* q = qkv;
    float* k = qkv + q_dim;
    float* v = qkv + q_dim + kv_dim;
    b.rope(q, qkv_dim, k, qkv_dim, plan.positions(), T, num_heads, num_kv_heads, head_dim,
           rope_table);
    b.writeKvCache(plan, k, qkv_dim, v, qkv_dim, kv.shape(), kv.keys(static_cast<int>(l)),
                   kv.values(static_cast<int>(l)));
    b.pagedAttention(plan, q, qkv_dim, num_heads, kv.shape(), kv.keys(static_cast<int>(l)),
                     kv.values(static_cast<int>(l)), scale, w.sliding_window, attn);
    b.matmul(attn, T, q_dim, w.o_proj, H, w.o_bias, proj);
    b.addRmsNorm(proj, residual, w.post_norm, T, H, eps, hidden);
    b.matmul(hidden, T, H, w.gate_up, 2 * I, w.gate_up_bias, gate_up);
    b.siluAndMul(gate_up, T, I, act);
    b.matmul(act, T, I, w.down, H, w.down_bias, proj);
  }
  // Only the rows whose logits are wanted go through the final norm and the LM head.
  float* final_x = ws_.final_x.as<float>();      // [num_logits_rows, H]
  float* final_res = ws_.final_res.as<float>();  // [num_logits_rows, H]
  b.gatherRows(proj, logits_rows, num_logits_rows, H, final_x);
  b.gatherRows(residual, logits_rows, num_logits_rows, H, final_res);
  b.addRmsNorm(final_x, final_res, final_norm_, num_logits_rows, H, eps, final_x);
  b.matmul(final_x, num_logits_rows, H, lm_head_, static_cast<int>(c.vocab_size), {}, logits);
}

}  // namespace manifold
