#include "engine/chat_template/unicode.h"

#include <utf8proc.h>

#include "common/utf8.h"

namespace manifold::jinja {

std::vector<std::string> splitCodePoints(std::string_view text) {
  std::vector<std::string> parts;
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t start = offset;
    static_cast<void>(utf8::decodeNext(text, offset));
    parts.emplace_back(text.substr(start, offset - start));
  }
  return parts;
}

bool isUnicodeSpace(char32_t c) {
  switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x00A0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::string_view trimUnicodeSpace(std::string_view text, bool left, bool right) {
  size_t begin = 0;
  if (left) {
    while (begin < text.size()) {
      size_t next = begin;
      if (!isUnicodeSpace(utf8::decodeNext(text, next))) break;
      begin = next;
    }
  }
  size_t end = text.size();
  if (right) {
    // Walk forward remembering where the trailing run of spaces starts: UTF-8 cannot be decoded
    // backwards without re-synchronising.
    size_t offset = begin;
    size_t run_start = text.size();
    while (offset < text.size()) {
      const size_t start = offset;
      const bool space = isUnicodeSpace(utf8::decodeNext(text, offset));
      if (space) {
        if (run_start == text.size()) run_start = start;
      } else {
        run_start = text.size();
      }
    }
    end = run_start == text.size() ? text.size() : run_start;
  }
  if (end < begin) end = begin;
  return text.substr(begin, end - begin);
}

namespace {

template <typename Map>
std::string mapCodePoints(std::string_view text, Map map) {
  std::string out;
  out.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    utf8::append(map(utf8::decodeNext(text, offset)), out);
  }
  return out;
}

char32_t upper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
bool isCased(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LL ||
         category == UTF8PROC_CATEGORY_LT;
}

}  // namespace

std::string toUpperUtf8(std::string_view text) { return mapCodePoints(text, upper); }
std::string toLowerUtf8(std::string_view text) { return mapCodePoints(text, lower); }

std::string titleCaseUtf8(std::string_view text) {
  bool previous_cased = false;
  return mapCodePoints(text, [&](char32_t c) {
    const char32_t mapped = previous_cased ? lower(c) : upper(c);
    previous_cased = isCased(c);
    return mapped;
  });
}

std::string capitalizeUtf8(std::string_view text) {
  bool first = true;
  return mapCodePoints(text, [&](char32_t c) {
    const char32_t mapped = first ? upper(c) : lower(c);
    first = false;
    return mapped;
  });
}

}  // namespace manifold::jinja
