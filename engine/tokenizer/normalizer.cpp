#include "engine/tokenizer/normalizer.h"

#include <cstdlib>

#include <utf8proc.h>

#include "common/utf8.h"
#include "engine/tokenizer/regex.h"

namespace manifold {
namespace {

bool isAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string unicodeNormalize(std::string_view text, int options) {
  // Composition and decomposition leave ASCII untouched (NFKC/NFKD too: no ASCII character has a
  // compatibility mapping), so the common case skips utf8proc.
  if (isAscii(text)) return std::string(text);
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (length < 0) return std::string(text);  // only on invalid input, which callers exclude
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
  std::free(result);
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    utf8::append(static_cast<char32_t>(
                     utf8proc_tolower(static_cast<utf8proc_int32_t>(utf8::decodeNext(text, pos)))),
                 out);
  }
  return out;
}

bool isWhitespace(char32_t cp) {
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x85 ||
         category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

std::string strip(std::string_view text, bool left, bool right) {
  size_t begin = 0;
  size_t end = text.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      if (!isWhitespace(utf8::decodeNext(text, next))) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      size_t next = start;
      if (!isWhitespace(utf8::decodeNext(text, next))) break;
      end = start;
    }
  }
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

Normalizer::~Normalizer() = default;

Result<std::unique_ptr<Normalizer>> Normalizer::fromJson(const nlohmann::json& json) {
  std::unique_ptr<Normalizer> normalizer(new Normalizer());
  RETURN_IF_ERROR(normalizer->addSteps(json));
  return normalizer;
}

Status Normalizer::addSteps(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string()) {
    return invalidArgument("normalizer must be an object with a string \"type\"");
  }
  const std::string type = json["type"].get<std::string>();
  if (type == "Sequence") {
    if (!json.contains("normalizers") || !json["normalizers"].is_array()) {
      return invalidArgument("Sequence normalizer needs a \"normalizers\" list");
    }
    for (const auto& child : json["normalizers"]) RETURN_IF_ERROR(addSteps(child));
    return Status::ok();
  }
  Step step;
  if (type == "NFC") {
    step.kind = Kind::kNfc;
  } else if (type == "NFD") {
    step.kind = Kind::kNfd;
  } else if (type == "NFKC") {
    step.kind = Kind::kNfkc;
  } else if (type == "NFKD") {
    step.kind = Kind::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else if (type == "Prepend") {
    if (!json.contains("prepend") || !json["prepend"].is_string()) {
      return invalidArgument("Prepend normalizer needs a string \"prepend\"");
    }
    step.kind = Kind::kPrepend;
    step.text = json["prepend"].get<std::string>();
  } else if (type == "Replace") {
    if (!json.contains("content") || !json["content"].is_string() || !json.contains("pattern")) {
      return invalidArgument("Replace normalizer needs \"pattern\" and a string \"content\"");
    }
    step.kind = Kind::kReplace;
    step.text = json["content"].get<std::string>();
    ASSIGN_OR_RETURN(step.pattern, Regex::fromPatternJson(json["pattern"]));
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    step.strip_left = json.value("strip_left", true);
    step.strip_right = json.value("strip_right", true);
  } else {
    return unimplemented("normalizer type \"" + type + "\" is not supported");
  }
  steps_.push_back(std::move(step));
  return Status::ok();
}

std::string Normalizer::normalize(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kNfc:
        current = unicodeNormalize(current, UTF8PROC_COMPOSE);
        break;
      case Kind::kNfd:
        current = unicodeNormalize(current, UTF8PROC_DECOMPOSE);
        break;
      case Kind::kNfkc:
        current = unicodeNormalize(current, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kNfkd:
        current = unicodeNormalize(current, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
        break;
      case Kind::kLowercase:
        current = lowercase(current);
        break;
      case Kind::kPrepend:
        // HF prepends only to non-empty text.
        if (!current.empty()) current.insert(0, step.text);
        break;
      case Kind::kReplace:
        current = step.pattern->replaceAll(current, step.text);
        break;
      case Kind::kStrip:
        current = strip(current, step.strip_left, step.strip_right);
        break;
    }
  }
  return current;
}

}  // namespace manifold
