#include "engine/kv_cache/kv_cache_manager.h"

#include <algorithm>
#include <cassert>

namespace manifold {

KVCacheManager::KVCacheManager(int num_blocks, int block_size, bool enable_prefix_caching)
    : pool_(std::make_unique<BlockPool>(num_blocks, block_size, enable_prefix_caching)) {}

PrefixHit KVCacheManager::findCachedPrefix(std::span<const int32_t> token_ids,
                                           uint64_t extra_key) const {
  PrefixHit hit;
  if (!pool_->cachingEnabled() || token_ids.empty()) return hit;
  hit.num_query_tokens = static_cast<int>(token_ids.size());
  const int block_size = blockSize();
  // At least the last token is recomputed, so a fully cached prompt still yields logits.
  const int max_blocks = (static_cast<int>(token_ids.size()) - 1) / block_size;
  for (int i = 0; i < max_blocks; ++i) {
    const auto block_tokens = token_ids.subspan(static_cast<size_t>(i) * block_size, block_size);
    const BlockHash hash =
        hashBlockTokens(hit.hashes.empty() ? nullptr : &hit.hashes.back(), extra_key, block_tokens);
    const std::optional<BlockId> id = pool_->findCached(hash, block_tokens);
    if (!id) break;
    hit.blocks.push_back(*id);
    hit.hashes.push_back(hash);
  }
  hit.num_tokens = static_cast<int>(hit.blocks.size()) * block_size;
  return hit;
}

bool KVCacheManager::allocateSlots(SeqId seq, int num_computed_tokens, int num_new_tokens,
                                   const PrefixHit* prefix, std::vector<BlockCopy>& copies) {
  assert(num_computed_tokens >= 0 && num_new_tokens >= 0);
  const auto existing = seqs_.find(seq);
  const bool is_new = existing == seqs_.end();
  static const SeqBlocks kEmpty;
  const SeqBlocks& current = is_new ? kEmpty : existing->second;
  const bool adopt = prefix != nullptr && !prefix->blocks.empty();
  assert(!adopt || (current.blocks.empty() && num_computed_tokens == prefix->num_tokens));
  assert(!(is_new && !adopt && num_computed_tokens != 0));

  const int num_held = static_cast<int>(current.blocks.size()) +
                       (adopt ? static_cast<int>(prefix->blocks.size()) : 0);
  const int num_needed = blocksForTokens(num_computed_tokens + num_new_tokens);
  const int num_fresh = std::max(0, num_needed - num_held);
  // Held blocks that the new tokens will write into and that someone else also holds.
  std::vector<int> cow_indices;
  if (num_new_tokens > 0) {
    const int first_written = num_computed_tokens / blockSize();
    for (int i = first_written; i < static_cast<int>(current.blocks.size()); ++i) {
      if (pool_->block(current.blocks[i]).ref_count > 1) cow_indices.push_back(i);
    }
  }
  // Adopting a cached block that nobody holds takes it off the free queue too.
  int num_revived = 0;
  if (adopt) {
    for (BlockId id : prefix->blocks) num_revived += pool_->block(id).ref_count == 0 ? 1 : 0;
  }
  const int num_to_allocate = num_fresh + static_cast<int>(cow_indices.size());
  if (num_to_allocate + num_revived > pool_->numFreeBlocks()) return false;

  SeqBlocks& state = seqs_[seq];
  if (prefix != nullptr && prefix->counted) {
    stats_.queries += prefix->num_query_tokens;
    stats_.hits += prefix->num_tokens;
  }
  if (adopt) {
    pool_->touch(prefix->blocks);
    state.blocks = prefix->blocks;
    state.hashes = prefix->hashes;
  }
  const std::vector<BlockId> fresh = pool_->allocate(num_to_allocate);
  size_t next = 0;
  for (int index : cow_indices) {
    const BlockId src = state.blocks[index];
    const BlockId dst = fresh[next++];
    copies.push_back(BlockCopy{src, dst});
    const BlockId released[] = {src};
    pool_->free(released);
    state.blocks[index] = dst;
  }
  state.blocks.insert(state.blocks.end(), fresh.begin() + static_cast<ptrdiff_t>(next),
                      fresh.end());
  return true;
}

void KVCacheManager::cacheFullBlocks(SeqId seq, std::span<const int32_t> token_ids,
                                     int num_computed_tokens, uint64_t extra_key) {
  if (!pool_->cachingEnabled()) return;
  auto it = seqs_.find(seq);
  assert(it != seqs_.end());
  SeqBlocks& state = it->second;
  assert(static_cast<int>(token_ids.size()) >= num_computed_tokens);
  const int block_size = blockSize();
  const int num_full =
      std::min(num_computed_tokens / block_size, static_cast<int>(state.blocks.size()));
  for (int i = static_cast<int>(state.hashes.size()); i < num_full; ++i) {
    const auto block_tokens = token_ids.subspan(static_cast<size_t>(i) * block_size, block_size);
    const BlockHash hash = hashBlockTokens(state.hashes.empty() ? nullptr : &state.hashes.back(),
                                           extra_key, block_tokens);
    state.hashes.push_back(hash);
    const KVCacheBlock& block = pool_->block(state.blocks[i]);
    if (block.hash) {
      // Shared with the sequence that cached it (fork): same position, same tokens.
      assert(*block.hash == hash);
      continue;
    }
    // False when an identical block is already cached: this copy simply stays private.
    (void)pool_->cacheBlock(block.id, hash, block_tokens);
  }
}

int KVCacheManager::fork(SeqId parent, SeqId child, int num_computed_tokens,
                         bool share_partial_block) {
  const auto it = seqs_.find(parent);
  assert(it != seqs_.end());
  assert(!hasSequence(child));
  SeqBlocks copy = it->second;
  assert(static_cast<int>(copy.blocks.size()) >= blocksForTokens(num_computed_tokens));
  int num_shared_tokens = num_computed_tokens;
  if (!share_partial_block) num_shared_tokens -= num_computed_tokens % blockSize();
  const int num_shared_blocks = blocksForTokens(num_shared_tokens);
  copy.blocks.resize(num_shared_blocks);
  copy.hashes.resize(std::min(copy.hashes.size(), static_cast<size_t>(num_shared_blocks)));
  pool_->touch(copy.blocks);
  seqs_.emplace(child, std::move(copy));
  return num_shared_tokens;
}

void KVCacheManager::free(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  std::vector<BlockId>& blocks = it->second.blocks;
  // Tail first: the end of a sequence is the least likely to be shared, so evict it first.
  std::reverse(blocks.begin(), blocks.end());
  pool_->free(blocks);
  seqs_.erase(it);
}

std::span<const BlockId> KVCacheManager::blockTable(SeqId seq) const {
  const auto it = seqs_.find(seq);
  assert(it != seqs_.end());
  return it->second.blocks;
}

}  // namespace manifold
