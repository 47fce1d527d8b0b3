// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Output is a pure function of (counter, key), so the sampler can draw the
// random number for "token k of sequence j of the request seeded s" without any per-request state,
// and a CUDA kernel can draw the same number from the same inputs.
#pragma once

#include <array>
#include <cstdint>

namespace manifold {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

// The Random123 reference function philox4x32_10(ctr, key): ten rounds, key bumped between rounds.
[[nodiscard]] constexpr PhiloxCounter philox4x32(PhiloxCounter counter, PhiloxKey key) {
  constexpr uint32_t kMul0 = 0xD2511F53u;
  constexpr uint32_t kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr uint32_t kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    const uint64_t product0 = uint64_t{kMul0} * counter[0];
    const uint64_t product1 = uint64_t{kMul1} * counter[2];
    const auto hi0 = static_cast<uint32_t>(product0 >> 32);
    const auto lo0 = static_cast<uint32_t>(product0);
    const auto hi1 = static_cast<uint32_t>(product1 >> 32);
    const auto lo1 = static_cast<uint32_t>(product1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
  }
  return counter;
}

// The uniform draw in [0, 1) that decides token `step` (0-based output position) of sequence
// `sequence_index` of a request seeded `seed`. Key = the seed's two halves (low word first);
// counter = (step low, step high, sequence_index, stream). 53 bits from the first two output
// words (w0 high, w1 low) make the double, exactly as a GPU kernel would compute it. `stream` 0 is
// the step's draw; stream 1 the independent redraw of a structured-output rejection (sampler.h).
[[nodiscard]] constexpr double samplingUniform(uint64_t seed, uint32_t sequence_index,
                                               uint64_t step, uint32_t stream = 0) {
  const PhiloxCounter words = philox4x32(
      {static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), sequence_index, stream},
      {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  const uint64_t bits53 = (uint64_t{words[0] >> 5} << 26) | (words[1] >> 6);
  return static_cast<double>(bits53) * (1.0 / 9007199254740992.0);  // 2^-53
}

// A fresh seed for a request that did not ask for one; the engine calls it once at submission so
// that the request's n sequences and every later step use the same key. Thread-safe.
[[nodiscard]] uint64_t drawRandomSeed();

}  // namespace manifold
