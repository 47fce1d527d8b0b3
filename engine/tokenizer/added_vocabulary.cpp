#include "engine/tokenizer/added_vocabulary.h"

#include <algorithm>

#include <utf8proc.h>

#include "common/utf8.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/tokenizer_model.h"

namespace manifold {
namespace {

bool isWordChar(char32_t cp) {
  if (cp == '_') return true;
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

bool isWhitespace(char32_t cp) {
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x85 ||
         category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

// Start of the character that ends just before `pos`. REQUIRES: pos > 0.
size_t previousCharStart(std::string_view text, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

char32_t charBefore(std::string_view text, size_t pos) {
  size_t start = previousCharStart(text, pos);
  return utf8::decodeNext(text, start);
}

char32_t charAt(std::string_view text, size_t pos) { return utf8::decodeNext(text, pos); }

}  // namespace

Result<std::unique_ptr<AddedVocabulary>> AddedVocabulary::fromJson(
    const nlohmann::json& added_tokens, const Normalizer* normalizer) {
  std::unique_ptr<AddedVocabulary> vocab(new AddedVocabulary());
  if (added_tokens.is_null()) return vocab;
  if (!added_tokens.is_array()) return invalidArgument("\"added_tokens\" must be a list");
  for (const auto& entry : added_tokens) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() ||
        entry["id"].get<int64_t>() < 0 || entry["id"].get<int64_t>() > kMaxTokenId ||
        !entry.contains("content") || !entry["content"].is_string()) {
      return invalidArgument("\"added_tokens\" entries need an \"id\" from 0 to " +
                             std::to_string(kMaxTokenId) + " and a string \"content\"");
    }
    AddedToken token;
    token.id = static_cast<int32_t>(entry["id"].get<int64_t>());
    token.content = entry["content"].get<std::string>();
    token.single_word = entry.value("single_word", false);
    token.lstrip = entry.value("lstrip", false);
    token.rstrip = entry.value("rstrip", false);
    token.normalized = entry.value("normalized", false);
    token.special = entry.value("special", false);
    if (token.content.empty() || !utf8::isValid(token.content)) {
      return invalidArgument("added token " + std::to_string(token.id) +
                             " has empty or invalid UTF-8 content");
    }
    vocab->id_limit_ = std::max(vocab->id_limit_, token.id + 1);
    const size_t index = vocab->tokens_.size();
    vocab->by_id_[token.id] = index;
    vocab->by_content_[token.content] = index;
    vocab->tokens_.push_back(std::move(token));
  }
  for (size_t i = 0; i < vocab->tokens_.size(); ++i) {
    const AddedToken& token = vocab->tokens_[i];
    if (token.normalized) {
      // HF matches normalized tokens by their normalized spelling.
      const std::string pattern =
          normalizer != nullptr ? normalizer->normalize(token.content) : token.content;
      if (!pattern.empty())
        addPattern(vocab->normalized_matcher_, pattern, static_cast<int32_t>(i));
    } else {
      addPattern(vocab->raw_matcher_, token.content, static_cast<int32_t>(i));
    }
  }
  return vocab;
}

void AddedVocabulary::addPattern(Matcher& matcher, const std::string& pattern,
                                 int32_t token_index) {
  int32_t node = 0;
  for (char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = matcher.nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it != children.end() && it->first == byte) {
      node = it->second;
      continue;
    }
    const auto next = static_cast<int32_t>(matcher.nodes.size());
    children.insert(it, {byte, next});
    matcher.nodes.emplace_back();
    node = next;
  }
  // A later token with the same spelling wins, as HF's map from content does.
  matcher.nodes[node].token_index = token_index;
  matcher.first_byte[static_cast<unsigned char>(pattern[0])] = true;
  matcher.patterns.push_back(pattern);
}

std::pair<size_t, int32_t> AddedVocabulary::longestAt(const Matcher& matcher, std::string_view text,
                                                      size_t pos) {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = matcher.nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, unsigned char b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (matcher.nodes[node].token_index >= 0) best = {i + 1 - pos, matcher.nodes[node].token_index};
  }
  return best;
}

void AddedVocabulary::split(const Matcher& matcher, std::string_view text,
                            std::vector<TextSegment>& out) const {
  if (matcher.patterns.empty()) {
    if (!text.empty()) out.push_back({text, std::nullopt});
    return;
  }
  size_t segment_start = 0;  // start of text not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    if (!matcher.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [length, token_index] = longestAt(matcher, text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[static_cast<size_t>(token_index)];
    size_t start = pos;
    size_t end = pos + length;
    if (token.single_word) {
      const bool word_before = start > 0 && isWordChar(charBefore(text, start));
      const bool word_after = end < text.size() && isWordChar(charAt(text, end));
      if (word_before || word_after) {
        ++pos;
        continue;
      }
    }
    if (token.lstrip) {
      while (start > segment_start && isWhitespace(charBefore(text, start))) {
        start = previousCharStart(text, start);
      }
    }
    if (token.rstrip) {
      while (end < text.size()) {
        size_t next = end;
        if (!isWhitespace(utf8::decodeNext(text, next))) break;
        end = next;
      }
    }
    if (start > segment_start) {
      out.push_back({text.substr(segment_start, start - segment_start), std::nullopt});
    }
    out.push_back({text.substr(start, end - start), token.id});
    segment_start = end;
    pos = end;
  }
  if (segment_start < text.size()) {
    out.push_back({text.substr(segment_start), std::nullopt});
  }
}

const AddedToken* AddedVocabulary::byId(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::byContent(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace manifold
