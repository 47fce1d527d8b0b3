#include "engine/chat_template/lexer.h"

#include <algorithm>
#include <cstdint>

#include "common/utf8.h"
#include "engine/chat_template/unicode.h"

namespace manifold::jinja {

namespace {

// Template text after the whitespace pass, with each byte's offset in the original source so
// errors point at what the author wrote.
struct MappedText {
  std::string text;
  std::vector<uint32_t> origin;

  void push(char c, size_t source_offset) {
    text.push_back(c);
    origin.push_back(static_cast<uint32_t>(source_offset));
  }
};

bool isLineStart(const MappedText& text, size_t i) {
  return i == 0 || text.text[i - 1] == '\n' || text.text[i - 1] == '\r';
}

// Removes spaces and tabs between a line start and `{%`, `{#` or `{-` (lstrip_blocks).
MappedText lstripBlocks(const MappedText& in) {
  MappedText out;
  const std::string& s = in.text;
  size_t i = 0;
  while (i < s.size()) {
    if (isLineStart(in, i)) {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j > i && j + 1 < s.size() && s[j] == '{' &&
          (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
        i = j;
      }
    }
    out.push(s[i], in.origin[i]);
    ++i;
  }
  return out;
}

// Removes the newline right after `#}`, `%}` or `-}` (trim_blocks).
MappedText trimBlocks(const MappedText& in) {
  MappedText out;
  const std::string& s = in.text;
  size_t i = 0;
  while (i < s.size()) {
    if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' &&
        s[i + 2] == '\n') {
      out.push(s[i], in.origin[i]);
      out.push(s[i + 1], in.origin[i + 1]);
      i += 3;
      continue;
    }
    out.push(s[i], in.origin[i]);
    ++i;
  }
  return out;
}

// Length of the run of Unicode whitespace starting at `i`.
size_t spaceRunAfter(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size()) {
    size_t next = j;
    if (!isUnicodeSpace(utf8::decodeNext(s, next))) break;
    j = next;
  }
  return j - i;
}

// Start of the run of Unicode whitespace that ends at `end`, not going below `floor`.
size_t spaceRunStart(const std::string& s, size_t floor, size_t end) {
  size_t offset = floor;
  size_t run_start = end;
  while (offset < end) {
    const size_t start = offset;
    const bool space = isUnicodeSpace(utf8::decodeNext(s, offset));
    if (space) {
      if (run_start == end) run_start = start;
    } else {
      run_start = end;
    }
  }
  return run_start;
}

// Drops `{% generation %}` and `{% endgeneration %}` (assistant-mask markers that only matter for
// training), with the whitespace their `-` asks to strip.
MappedText removeGenerationTags(const MappedText& in) {
  const std::string& s = in.text;
  MappedText out;
  size_t copied = 0;  // s[0, copied) is in `out` or dropped
  size_t i = 0;
  while ((i = s.find("{%", i)) != std::string::npos) {
    size_t j = i + 2;
    const bool strip_before = j < s.size() && s[j] == '-';
    if (strip_before) ++j;
    j += spaceRunAfter(s, j);
    if (s.compare(j, 3, "end") == 0) j += 3;
    if (s.compare(j, 10, "generation") != 0) {
      i += 2;
      continue;
    }
    j += 10;
    j += spaceRunAfter(s, j);
    const bool strip_after = j < s.size() && s[j] == '-';
    if (strip_after) ++j;
    if (s.compare(j, 2, "%}") != 0) {
      i += 2;
      continue;
    }
    j += 2;
    const size_t before = strip_before ? spaceRunStart(s, copied, i) : i;
    for (size_t k = copied; k < before; ++k) out.push(s[k], in.origin[k]);
    copied = strip_after ? j + spaceRunAfter(s, j) : j;
    i = copied;
  }
  for (size_t k = copied; k < s.size(); ++k) out.push(s[k], in.origin[k]);
  return out;
}

bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  Lexer(std::string_view source, MappedText text) : text_(std::move(text)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\n') line_starts_.push_back(i + 1);
    }
    source_size_ = source.size();
  }

  std::vector<Token> run() {
    const std::string& s = text_.text;
    while (pos_ < s.size()) {
      lexText();
      if (pos_ >= s.size()) break;
      if (s.compare(pos_, 2, "{#") == 0) {
        lexComment();
      } else {
        lexTag();
      }
    }
    tokens_.push_back(Token{Token::Kind::kEnd, "", positionOf(s.size())});
    return std::move(tokens_);
  }

 private:
  SourcePos positionOf(size_t offset) const {
    const size_t source_offset = offset < text_.origin.size() ? text_.origin[offset] : source_size_;
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), source_offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    return SourcePos{static_cast<int>(line),
                     static_cast<int>(source_offset - line_starts_[line - 1] + 1)};
  }

  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    throw TemplateError(TemplateError::Kind::kSyntax, message, positionOf(offset));
  }

  void push(Token::Kind kind, std::string text, size_t offset) {
    tokens_.push_back(Token{kind, std::move(text), positionOf(offset)});
  }

  void lexText() {
    const std::string& s = text_.text;
    const size_t start = pos_;
    while (pos_ < s.size()) {
      if (s[pos_] == '{' && pos_ + 1 < s.size() &&
          (s[pos_ + 1] == '{' || s[pos_ + 1] == '%' || s[pos_ + 1] == '#')) {
        break;
      }
      ++pos_;
    }
    if (pos_ > start) push(Token::Kind::kText, s.substr(start, pos_ - start), start);
  }

  // `{%-`, `{{-` and `{#-` remove the whitespace at the end of the text before them.
  void stripTrailingText() {
    if (tokens_.empty() || tokens_.back().kind != Token::Kind::kText) return;
    std::string& text = tokens_.back().text;
    text.resize(trimUnicodeSpace(text, false, true).size());
    if (text.empty()) tokens_.pop_back();
  }

  void skipLeadingWhitespace() { pos_ += spaceRunAfter(text_.text, pos_); }

  void lexComment() {
    const std::string& s = text_.text;
    const size_t open = pos_;
    pos_ += 2;
    if (pos_ < s.size() && s[pos_] == '-') stripTrailingText();
    const size_t close = s.find("#}", pos_);
    if (close == std::string::npos) fail("unclosed comment: missing '#}'", open);
    const bool strip_after = close > pos_ && s[close - 1] == '-';
    // As in @huggingface/jinja, a later `{%-` strips only the text after the comment.
    push(Token::Kind::kComment, "", open);
    pos_ = close + 2;
    if (strip_after) skipLeadingWhitespace();
  }

  void lexTag() {
    const std::string& s = text_.text;
    const size_t open = pos_;
    const bool is_expression = s[pos_ + 1] == '{';
    pos_ += 2;
    if (pos_ < s.size() && s[pos_] == '-') {
      stripTrailingText();
      ++pos_;
    }
    push(is_expression ? Token::Kind::kOpenExpression : Token::Kind::kOpenStatement, "", open);
    int curly_depth = 0;
    while (true) {
      while (pos_ < s.size() && isAsciiSpace(s[pos_])) ++pos_;
      if (pos_ >= s.size()) {
        fail(is_expression ? "unclosed expression: missing '}}'" : "unclosed tag: missing '%}'",
             open);
      }
      if (s.compare(pos_, 3, "-%}") == 0 || (curly_depth == 0 && s.compare(pos_, 3, "-}}") == 0)) {
        push(s[pos_ + 1] == '%' ? Token::Kind::kCloseStatement : Token::Kind::kCloseExpression, "",
             pos_);
        pos_ += 3;
        skipLeadingWhitespace();
        return;
      }
      if (s.compare(pos_, 2, "%}") == 0 || (curly_depth == 0 && s.compare(pos_, 2, "}}") == 0)) {
        push(s[pos_] == '%' ? Token::Kind::kCloseStatement : Token::Kind::kCloseExpression, "",
             pos_);
        pos_ += 2;
        return;
      }
      const char c = s[pos_];
      if (c == '\'' || c == '"') {
        lexString();
      } else if (isDigit(c)) {
        lexNumber();
      } else if (isNameStart(c)) {
        const size_t start = pos_;
        while (pos_ < s.size() && isNameChar(s[pos_])) ++pos_;
        push(Token::Kind::kName, s.substr(start, pos_ - start), start);
      } else {
        lexOperator(&curly_depth);
      }
    }
  }

  void lexOperator(int* curly_depth) {
    static constexpr std::string_view kTwoCharOperators[] = {"**", "//", "==", "!=", "<=", ">="};
    const std::string& s = text_.text;
    for (const std::string_view op : kTwoCharOperators) {
      if (s.compare(pos_, 2, op) == 0) {
        push(Token::Kind::kOperator, std::string(op), pos_);
        pos_ += 2;
        return;
      }
    }
    const char c = s[pos_];
    static constexpr std::string_view kOneCharOperators = "()[]{},.:|+-~*/%=<>";
    if (kOneCharOperators.find(c) == std::string_view::npos) {
      fail(std::string("unexpected character '") + c + "'", pos_);
    }
    if (c == '{') ++*curly_depth;
    if (c == '}') --*curly_depth;
    push(Token::Kind::kOperator, std::string(1, c), pos_);
    ++pos_;
  }

  void lexNumber() {
    const std::string& s = text_.text;
    const size_t start = pos_;
    while (pos_ < s.size() && isDigit(s[pos_])) ++pos_;
    // `x.0.1` style member access: a number right after a dot stays an integer.
    const bool after_dot = !tokens_.empty() && tokens_.back().kind == Token::Kind::kOperator &&
                           tokens_.back().text == ".";
    if (!after_dot && pos_ + 1 < s.size() && s[pos_] == '.' && isDigit(s[pos_ + 1])) {
      ++pos_;
      while (pos_ < s.size() && isDigit(s[pos_])) ++pos_;
      push(Token::Kind::kFloat, s.substr(start, pos_ - start), start);
      return;
    }
    push(Token::Kind::kInteger, s.substr(start, pos_ - start), start);
  }

  void lexString() {
    const std::string& s = text_.text;
    const size_t start = pos_;
    const char quote = s[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= s.size()) fail("unterminated string literal", start);
      const char c = s[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c != '\\') {
        value.push_back(c);
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= s.size()) fail("unterminated string literal", start);
      const char escaped = s[pos_ + 1];
      pos_ += 2;
      switch (escaped) {
        case 'n':
          value.push_back('\n');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case '0':
          value.push_back('\0');
          break;
        case '\'':
        case '"':
        case '\\':
          value.push_back(escaped);
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const size_t digits = escaped == 'x' ? 2 : (escaped == 'u' ? 4 : 8);
          if (pos_ + digits > s.size())
            fail("truncated \\" + std::string(1, escaped) + " escape", pos_);
          char32_t code_point = 0;
          for (size_t k = 0; k < digits; ++k) {
            const char h = s[pos_ + k];
            int digit;
            if (h >= '0' && h <= '9')
              digit = h - '0';
            else if (h >= 'a' && h <= 'f')
              digit = h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
              digit = h - 'A' + 10;
            else
              fail("invalid hexadecimal escape", pos_ + k);
            code_point = code_point * 16 + static_cast<char32_t>(digit);
          }
          pos_ += digits;
          utf8::append(code_point, value);
          break;
        }
        default:
          // Python keeps unknown escapes as written.
          value.push_back('\\');
          value.push_back(escaped);
      }
    }
    push(Token::Kind::kString, std::move(value), start);
  }

  MappedText text_;
  std::vector<size_t> line_starts_;
  size_t source_size_ = 0;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  MappedText text;
  text.text.reserve(source.size());
  text.origin.reserve(source.size());
  size_t length = source.size();
  if (length > 0 && source[length - 1] == '\n') --length;  // Jinja2 keep_trailing_newline=False
  for (size_t i = 0; i < length; ++i) text.push(source[i], i);
  text = removeGenerationTags(trimBlocks(lstripBlocks(text)));
  return Lexer(source, std::move(text)).run();
}

}  // namespace manifold::jinja
