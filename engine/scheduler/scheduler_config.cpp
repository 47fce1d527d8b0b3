#include "engine/scheduler/scheduler_config.h"

#include <string>

namespace manifold {

Result<SchedulingPolicy> parseSchedulingPolicy(std::string_view name) {
  if (name == "fcfs") return SchedulingPolicy::kFcfs;
  if (name == "priority") return SchedulingPolicy::kPriority;
  return invalidArgument("scheduling policy must be \"fcfs\" or \"priority\", got \"" +
                         std::string(name) + "\"");
}

const char* schedulingPolicyName(SchedulingPolicy policy) {
  switch (policy) {
    case SchedulingPolicy::kFcfs:
      return "fcfs";
    case SchedulingPolicy::kPriority:
      return "priority";
  }
  return "unknown";
}

Status SchedulerConfig::validate() const {
  if (max_num_seqs <= 0) {
    return invalidArgument("max_num_seqs must be > 0, got " + std::to_string(max_num_seqs));
  }
  if (max_num_batched_tokens <= 0) {
    return invalidArgument("max_num_batched_tokens must be > 0, got " +
                           std::to_string(max_num_batched_tokens));
  }
  if (max_model_len <= 0) {
    return invalidArgument("max_model_len must be > 0, got " + std::to_string(max_model_len));
  }
  if (long_prefill_token_threshold < 0) {
    return invalidArgument("long_prefill_token_threshold must be >= 0, got " +
                           std::to_string(long_prefill_token_threshold));
  }
  if (!enable_chunked_prefill && max_num_batched_tokens < max_model_len) {
    return invalidArgument("without chunked prefill, max_num_batched_tokens (" +
                           std::to_string(max_num_batched_tokens) + ") must be >= max_model_len (" +
                           std::to_string(max_model_len) + ")");
  }
  return Status::ok();
}

}  // namespace manifold
