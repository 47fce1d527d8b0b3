#include "common/utf8.h"

namespace manifold::utf8 {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Number of bytes the lead byte announces (0 for bytes that cannot start a sequence).
size_t announcedLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Valid range of the second byte given the lead byte (Unicode Table 3-7), which excludes overlong
// forms, surrogates and code points above U+10FFFF.
bool secondByteOk(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;
    case 0xED:
      return second >= 0x80 && second <= 0x9F;
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;
    default:
      return second >= 0x80 && second <= 0xBF;
  }
}

// Number of bytes at text[pos] that form a valid prefix of some sequence (at least 1 when the
// lead byte is invalid, so callers always make progress).
size_t maximalSubpart(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const size_t need = announcedLength(lead);
  if (need <= 1) return 1;
  size_t len = 1;
  while (len < need && pos + len < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos + len]);
    const bool ok = len == 1 ? secondByteOk(lead, byte) : (byte >= 0x80 && byte <= 0xBF);
    if (!ok) break;
    ++len;
  }
  return len;
}

}  // namespace

size_t validSequenceLength(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const size_t need = announcedLength(lead);
  if (need == 0) return 0;
  if (need == 1) return 1;
  return maximalSubpart(text, pos) == need ? need : 0;
}

char32_t decodeNext(std::string_view text, size_t& pos) {
  const size_t len = validSequenceLength(text, pos);
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (len == 0) {
    ++pos;
    return kReplacement;
  }
  char32_t cp;
  if (len == 1) {
    cp = lead;
  } else if (len == 2) {
    cp = lead & 0x1F;
  } else if (len == 3) {
    cp = lead & 0x0F;
  } else {
    cp = lead & 0x07;
  }
  for (size_t i = 1; i < len; ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  pos += len;
  return cp;
}

void append(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool isValid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t len = validSequenceLength(text, pos);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

std::string repairLossy(std::string_view bytes) {
  if (isValid(bytes)) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t len = validSequenceLength(bytes, pos);
    if (len > 0) {
      out.append(bytes.substr(pos, len));
      pos += len;
    } else {
      append(kReplacement, out);
      pos += maximalSubpart(bytes, pos);
    }
  }
  return out;
}

size_t codePointCount(std::string_view text) {
  size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

bool isPythonSpace(char32_t cp) {
  if (cp <= 0x20) return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20);
  switch (cp) {
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200a;
  }
}

std::string_view lstripPythonSpace(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!isPythonSpace(decodeNext(text, next))) break;
    pos = next;
  }
  return text.substr(pos);
}

}  // namespace manifold::utf8
