#include "engine/tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>

#include "common/utf8.h"
#include "engine/tokenizer/byte_level.h"

namespace manifold {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581

// Whether `token` has a "▁" right after some other character.
bool hasInnerMetaspace(std::string_view token) {
  size_t found = token.find(kMetaspace, 1);
  while (found != std::string_view::npos) {
    if (!token.substr(0, found).ends_with(kMetaspace)) return true;
    found = token.find(kMetaspace, found + kMetaspace.size());
  }
  return false;
}

uint64_t pairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// One symbol of the word being merged, in a doubly linked list over positions.
struct Symbol {
  int32_t id;
  int32_t prev;  // -1 at the start
  int32_t next;  // -1 at the end
  bool alive;
};

// A candidate merge in the queue; ordered by rank, then by position (leftmost first).
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  bool operator>(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : pos > other.pos;
  }
};

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::fromJson(const nlohmann::json& json, bool byte_level) {
  if (!json.is_object()) return invalidArgument("\"model\" must be an object");
  const std::string type = json.value("type", std::string("BPE"));
  if (type != "BPE") return unimplemented("model type \"" + type + "\" is not supported");
  if (json.contains("dropout") && json["dropout"].is_number() &&
      json["dropout"].get<double>() > 0.0) {
    return unimplemented("BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (json.contains(key) && json[key].is_string() && !json[key].get<std::string>().empty()) {
      return unimplemented(std::string("BPE \"") + key + "\" is not supported");
    }
  }
  if (!json.contains("vocab") || !json["vocab"].is_object()) {
    return invalidArgument("model.vocab must be an object of token -> id");
  }
  if (!json.contains("merges") || !json["merges"].is_array()) {
    return invalidArgument("model.merges must be a list");
  }
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->byte_level_ = byte_level;
  model->byte_fallback_ = json.value("byte_fallback", false);
  model->fuse_unk_ = json.value("fuse_unk", false);
  model->ignore_merges_ = json.value("ignore_merges", false);
  RETURN_IF_ERROR(model->loadVocab(json["vocab"]));
  RETURN_IF_ERROR(model->loadMerges(json["merges"]));
  if (json.contains("unk_token") && json["unk_token"].is_string()) {
    const std::string unk = json["unk_token"].get<std::string>();
    auto it = model->vocab_.find(unk);
    if (it == model->vocab_.end()) {
      return invalidArgument("model.unk_token \"" + unk + "\" is not in the vocab");
    }
    model->unk_id_ = it->second;
  }
  return model;
}

Status BpeModel::loadVocab(const nlohmann::json& vocab) {
  vocab_.reserve(vocab.size());
  int32_t max_id = -1;
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 ||
        id_json.get<int64_t>() > kMaxTokenId) {
      return invalidArgument("model.vocab[\"" + token + "\"] must be an integer id from 0 to " +
                             std::to_string(kMaxTokenId) + ", got " + id_json.dump());
    }
    const auto id = static_cast<int32_t>(id_json.get<int64_t>());
    vocab_[token] = id;
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [token, id] : vocab_) id_to_token_[static_cast<size_t>(id)] = token;

  byte_ids_.fill(-1);
  if (byte_level_) {
    byte_vocab_.reserve(vocab_.size());
    for (const auto& [token, id] : vocab_) {
      // Entries outside the byte alphabet (e.g. "<|endoftext|>" spelled in ASCII is inside it;
      // genuinely foreign ones are rare) cannot come out of byte-level input, so they are left out.
      std::optional<std::string> bytes = byte_level::decode(token);
      if (bytes) byte_vocab_[*bytes] = id;
    }
    for (int byte = 0; byte < 256; ++byte) {
      auto it = byte_vocab_.find(std::string(1, static_cast<char>(byte)));
      if (it != byte_vocab_.end()) byte_ids_[byte] = it->second;
    }
  } else {
    split_before_metaspace_ = vocab_.contains(kMetaspace);
    for (const auto& [token, id] : vocab_) {
      if (split_before_metaspace_ && hasInnerMetaspace(token)) split_before_metaspace_ = false;
    }
    for (int byte = 0; byte < 256; ++byte) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", byte);
      auto it = vocab_.find(std::string_view(name));
      if (it != vocab_.end()) byte_ids_[byte] = it->second;
    }
  }
  return Status::ok();
}

Status BpeModel::loadMerges(const nlohmann::json& merges) {
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& entry : merges) {
    std::string left;
    std::string right;
    if (entry.is_string()) {
      // Old format "a b": exactly one space separates the two parts.
      const std::string& text = entry.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return invalidArgument("model.merges[" + std::to_string(rank) + "] \"" + text +
                               "\" is not two tokens separated by one space");
      }
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      left = entry[0].get<std::string>();
      right = entry[1].get<std::string>();
    } else {
      return invalidArgument("model.merges[" + std::to_string(rank) +
                             "] must be \"a b\" or [\"a\", \"b\"]");
    }
    auto left_it = vocab_.find(left);
    auto right_it = vocab_.find(right);
    auto merged_it = vocab_.find(left + right);
    if (left_it == vocab_.end() || right_it == vocab_.end() || merged_it == vocab_.end()) {
      return invalidArgument("model.merges[" + std::to_string(rank) + "] (\"" + left + "\", \"" +
                             right + "\") uses a token that is not in the vocab");
    }
    // As in HF, a repeated pair keeps its last rank.
    merges_[pairKey(left_it->second, right_it->second)] = Merge{rank, merged_it->second};
    ++rank;
  }
  return Status::ok();
}

std::optional<int32_t> BpeModel::lookup(std::string_view text) const {
  const VocabMap& map = byte_level_ ? byte_vocab_ : vocab_;
  auto it = map.find(text);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> BpeModel::tokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::idToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  const std::string& token = id_to_token_[static_cast<size_t>(id)];
  return token.empty() ? nullptr : &token;
}

const BpeModel::Merge* BpeModel::findMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(pairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::initialSymbols(std::string_view piece, std::vector<int32_t>& symbols) const {
  if (byte_level_) {
    for (char c : piece) {
      const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        symbols.push_back(id);
      } else if (unk_id_ && !(fuse_unk_ && !symbols.empty() && symbols.back() == *unk_id_)) {
        symbols.push_back(*unk_id_);
      }
    }
    return;
  }
  // One symbol per character; HF's rules for characters missing from the vocabulary: their
  // <0xNN> byte tokens with byte_fallback, else unk (runs fused into one with fuse_unk), else
  // nothing.
  bool previous_unk = false;
  size_t pos = 0;
  while (pos < piece.size()) {
    size_t length = utf8::validSequenceLength(piece, pos);
    if (length == 0) length = 1;
    const std::string_view character = piece.substr(pos, length);
    pos += length;
    if (std::optional<int32_t> id = lookup(character)) {
      symbols.push_back(*id);
      previous_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (char c : character)
        all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes) {
        for (char c : character) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        previous_unk = false;
        continue;
      }
    }
    if (unk_id_) {
      if (!(fuse_unk_ && previous_unk)) symbols.push_back(*unk_id_);
      previous_unk = true;
    }
  }
}

void BpeModel::mergeSymbols(std::vector<int32_t>& ids) const {
  const auto count = static_cast<int32_t>(ids.size());
  if (count < 2) return;
  std::vector<Symbol> symbols(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    symbols[i] = Symbol{ids[i], i - 1, i + 1 < count ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  for (int32_t i = 0; i + 1 < count; ++i) {
    if (const Merge* merge = findMerge(ids[i], ids[i + 1])) {
      queue.push(Candidate{merge->rank, i, merge->new_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // Stale candidate: the pair at this position changed since it was queued. HF compares only
    // the merged id, and so do we, to give identical results.
    const Merge* current = findMerge(left.id, right.id);
    if (current == nullptr || current->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) {
      if (const Merge* merge = findMerge(symbols[left.prev].id, left.id)) {
        queue.push(Candidate{merge->rank, left.prev, merge->new_id});
      }
    }
    if (left.next >= 0) {
      if (const Merge* merge = findMerge(left.id, symbols[left.next].id)) {
        queue.push(Candidate{merge->rank, top.pos, merge->new_id});
      }
    }
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

void BpeModel::encodeWord(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (std::optional<int32_t> id = lookup(piece)) {
      ids.push_back(*id);
      return;
    }
  }
  if (!split_before_metaspace_ || piece.size() <= WordCache::kMaxKeyBytes) {
    encodeChunk(piece, ids);
    return;
  }
  // Cut before each "▁" run that follows another character (see split_before_metaspace_).
  size_t start = 0;
  size_t found = piece.find(kMetaspace, 1);
  while (found != std::string_view::npos) {
    if (!piece.substr(start, found - start).ends_with(kMetaspace)) {
      encodeChunk(piece.substr(start, found - start), ids);
      start = found;
    }
    found = piece.find(kMetaspace, found + kMetaspace.size());
  }
  encodeChunk(piece.substr(start), ids);
}

void BpeModel::encodeChunk(std::string_view chunk, std::vector<int32_t>& ids) const {
  if (cache_.lookup(chunk, ids)) return;
  thread_local std::vector<int32_t> symbols;
  symbols.clear();
  initialSymbols(chunk, symbols);
  mergeSymbols(symbols);
  const size_t begin = ids.size();
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  cache_.insert(chunk, ids, begin);
}

}  // namespace manifold
