// The scheduler's only view of KV memory: per-sequence block tables of block ids, prefix-cache
// lookups, allocation of slots for new tokens, fork with copy-on-write, and free. Modelled on
// vLLM v1's KVCacheManager, plus block sharing between the n samples of one request.
//
// A sequence's block table covers exactly its computed tokens plus the tokens scheduled in the
// current step. Full blocks are never written again, so they may be shared freely (prefix cache,
// fork). A partial block shared by a fork is copied before a sequence writes into it: the manager
// hands out a fresh block and reports the (src, dst) pair, and the model runner copies the KV
// before the forward pass that writes to dst.
//
// Thread safety: none; owned by the engine loop.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache/block_hash.h"
#include "engine/kv_cache/block_pool.h"

namespace manifold {

using SeqId = int64_t;

// A KV-memory copy the runner performs before the step's forward pass.
struct BlockCopy {
  BlockId src = kNoBlock;
  BlockId dst = kNoBlock;

  friend bool operator==(const BlockCopy&, const BlockCopy&) = default;
};

// The cached prefix of a token sequence, found by findCachedPrefix() and adopted by
// allocateSlots().
struct PrefixHit {
  std::vector<BlockId> blocks;    // full cached blocks, in order
  std::vector<BlockHash> hashes;  // their chained hashes
  int num_tokens = 0;             // blocks.size() * block_size
  int num_query_tokens = 0;       // tokens looked up (counted as prefix-cache queries)
  // Whether allocateSlots() counts this lookup in PrefixCacheStats. A preempted sequence's
  // second lookup is not counted, as in vLLM: it mostly finds its own blocks again, and would
  // inflate both counters under memory pressure.
  bool counted = true;
};

struct PrefixCacheStats {
  int64_t queries = 0;  // tokens looked up, cumulative
  int64_t hits = 0;     // of which found cached, cumulative
};

class KVCacheManager {
 public:
  // REQUIRES: num_blocks > 0, block_size > 0.
  KVCacheManager(int num_blocks, int block_size, bool enable_prefix_caching);

  [[nodiscard]] int blockSize() const { return pool_->blockSize(); }
  [[nodiscard]] int numBlocks() const { return pool_->numBlocks(); }
  [[nodiscard]] int numFreeBlocks() const { return pool_->numFreeBlocks(); }
  [[nodiscard]] bool prefixCachingEnabled() const { return pool_->cachingEnabled(); }
  // Fraction of blocks held by sequences, for metrics.
  [[nodiscard]] double usage() const { return pool_->usage(); }
  [[nodiscard]] int blocksForTokens(int num_tokens) const {
    return (num_tokens + blockSize() - 1) / blockSize();
  }
  [[nodiscard]] PrefixCacheStats prefixCacheStats() const { return stats_; }

  // The longest run of cached full blocks that starts `token_ids`, never covering the last token
  // (its logits must be computed). Takes no references; the blocks stay valid until the next
  // call that allocates. Empty when prefix caching is off.
  [[nodiscard]] PrefixHit findCachedPrefix(std::span<const int32_t> token_ids,
                                           uint64_t extra_key) const;

  // Grows `seq` (creating it if new) so that its blocks hold num_computed_tokens +
  // num_new_tokens tokens. A new sequence first adopts `prefix` (pass nullptr for none; then
  // num_computed_tokens must be 0 for a new sequence), which also counts the prefix-cache query.
  // Shared blocks about to be written are replaced by copies, appended to `copies`. All or
  // nothing: returns false and changes nothing when the free blocks do not suffice.
  [[nodiscard]] bool allocateSlots(SeqId seq, int num_computed_tokens, int num_new_tokens,
                                   const PrefixHit* prefix, std::vector<BlockCopy>& copies);

  // Registers the sequence's blocks that are full within its first num_computed_tokens tokens
  // (their KV is written) in the prefix cache. No-op when prefix caching is off.
  // REQUIRES: token_ids holds at least num_computed_tokens tokens of `seq`.
  void cacheFullBlocks(SeqId seq, std::span<const int32_t> token_ids, int num_computed_tokens,
                       uint64_t extra_key);

  // `child` shares the blocks of `parent` (one more reference each) that hold its first
  // num_computed_tokens tokens: all of them, or with share_partial_block false only the full ones,
  // for a runner that cannot copy blocks (the child then recomputes the partial block's tokens).
  // Returns how many computed tokens the child holds. REQUIRES: parent exists, child does not,
  // parent's blocks cover num_computed_tokens.
  int fork(SeqId parent, SeqId child, int num_computed_tokens, bool share_partial_block = true);

  // Drops the sequence's blocks (cached ones stay reusable). Unknown ids are ignored.
  void free(SeqId seq);

  [[nodiscard]] bool hasSequence(SeqId seq) const { return seqs_.count(seq) != 0; }
  // REQUIRES: hasSequence(seq).
  [[nodiscard]] std::span<const BlockId> blockTable(SeqId seq) const;
  [[nodiscard]] int numSequences() const { return static_cast<int>(seqs_.size()); }

  [[nodiscard]] const BlockPool& pool() const { return *pool_; }
  // Forgets cached blocks nobody holds; returns how many.
  int resetPrefixCache() { return pool_->resetPrefixCache(); }

 private:
  struct SeqBlocks {
    std::vector<BlockId> blocks;
    // Chained hashes of the leading blocks already offered to the prefix cache.
    std::vector<BlockHash> hashes;
  };

  std::unique_ptr<BlockPool> pool_;
  std::unordered_map<SeqId, SeqBlocks> seqs_;
  PrefixCacheStats stats_;
};

}  // namespace manifold
