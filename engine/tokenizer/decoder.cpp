#include "engine/tokenizer/decoder.h"

#include "common/utf8.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex.h"

namespace manifold {
namespace {

constexpr const char* kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// The byte of a "<0xNN>" token, or -1.
int byteToken(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = token[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

std::vector<std::string> decodeByteLevel(std::vector<std::string> tokens) {
  std::string bytes;
  for (const std::string& token : tokens) {
    // HF: a token whose characters are all in the byte alphabet gives those bytes; any other
    // token (an added token such as "<|eot_id|>" spelled with foreign characters) its own bytes.
    std::optional<std::string> decoded = byte_level::decode(token);
    bytes += decoded ? *decoded : token;
  }
  return {utf8::repairLossy(bytes)};
}

std::vector<std::string> decodeByteFallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string pending;  // consecutive <0xNN> bytes
  auto flush = [&]() {
    if (pending.empty()) return;
    if (utf8::isValid(pending)) {
      out.push_back(pending);
    } else {
      // HF emits one U+FFFD per byte of an invalid run.
      for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementChar);
    }
    pending.clear();
  };
  for (std::string& token : tokens) {
    const int byte = byteToken(token);
    if (byte >= 0) {
      pending.push_back(static_cast<char>(byte));
      continue;
    }
    flush();
    out.push_back(std::move(token));
  }
  flush();
  return out;
}

std::string replaceAll(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t found = text.find(from, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out.append(to);
    pos = found + from.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::string stripToken(const std::string& token, const std::string& content, size_t start,
                       size_t stop) {
  size_t begin = 0;
  size_t end = token.size();
  for (size_t i = 0; i < start && token.compare(begin, content.size(), content) == 0 &&
                     begin + content.size() <= end;
       ++i) {
    begin += content.size();
  }
  for (size_t i = 0; i < stop && end >= begin + content.size() &&
                     token.compare(end - content.size(), content.size(), content) == 0;
       ++i) {
    end -= content.size();
  }
  return token.substr(begin, end - begin);
}

}  // namespace

std::string Decoder::tokenBytes(const std::string& token) const {
  std::string bytes = token;
  bool fused = false;  // after Fuse the list is the whole text: Strip then trims only its ends
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kByteLevel:
        if (std::optional<std::string> decoded = byte_level::decode(bytes)) bytes = *decoded;
        break;
      case Kind::kByteFallback:
        if (const int byte = byteToken(bytes); byte >= 0) bytes.assign(1, static_cast<char>(byte));
        break;
      case Kind::kFuse:
        fused = true;
        break;
      case Kind::kReplace:
        bytes = step.pattern->replaceAll(bytes, step.text);
        break;
      case Kind::kStrip:
        if (!fused) bytes = stripToken(bytes, step.text, step.strip_start, step.strip_stop);
        break;
      case Kind::kMetaspace:
        bytes = replaceAll(bytes, step.text, " ");
        break;
    }
  }
  return bytes;
}

Decoder::~Decoder() = default;

Result<std::unique_ptr<Decoder>> Decoder::fromJson(const nlohmann::json& json) {
  std::unique_ptr<Decoder> decoder(new Decoder());
  RETURN_IF_ERROR(decoder->addSteps(json));
  return decoder;
}

Status Decoder::addSteps(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string()) {
    return invalidArgument("decoder must be an object with a string \"type\"");
  }
  const std::string type = json["type"].get<std::string>();
  if (type == "Sequence") {
    if (!json.contains("decoders") || !json["decoders"].is_array()) {
      return invalidArgument("Sequence decoder needs a \"decoders\" list");
    }
    for (const auto& child : json["decoders"]) RETURN_IF_ERROR(addSteps(child));
    return Status::ok();
  }
  Step step;
  if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = Kind::kFuse;
  } else if (type == "Replace") {
    if (!json.contains("content") || !json["content"].is_string() || !json.contains("pattern")) {
      return invalidArgument("Replace decoder needs \"pattern\" and a string \"content\"");
    }
    step.kind = Kind::kReplace;
    step.text = json["content"].get<std::string>();
    ASSIGN_OR_RETURN(step.pattern, Regex::fromPatternJson(json["pattern"]));
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    step.text = json.value("content", std::string(" "));
    step.strip_start = json.value("start", size_t{0});
    step.strip_stop = json.value("stop", size_t{0});
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    step.text = json.value("replacement", std::string("\xE2\x96\x81"));
    if (json.contains("prepend_scheme") && json["prepend_scheme"].is_string()) {
      step.metaspace_strip_first = json["prepend_scheme"].get<std::string>() != "never";
    } else {
      step.metaspace_strip_first = json.value("add_prefix_space", true);
    }
  } else {
    return unimplemented("decoder type \"" + type + "\" is not supported");
  }
  steps_.push_back(std::move(step));
  return Status::ok();
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kByteLevel:
        tokens = decodeByteLevel(std::move(tokens));
        break;
      case Kind::kByteFallback:
        tokens = decodeByteFallback(std::move(tokens));
        break;
      case Kind::kFuse: {
        std::string fused;
        for (const std::string& token : tokens) fused += token;
        tokens.assign(1, std::move(fused));
        break;
      }
      case Kind::kReplace:
        for (std::string& token : tokens) token = step.pattern->replaceAll(token, step.text);
        break;
      case Kind::kStrip:
        for (std::string& token : tokens) {
          token = stripToken(token, step.text, step.strip_start, step.strip_stop);
        }
        break;
      case Kind::kMetaspace:
        // HF drops every meta space of the first token (when a prefix was prepended at encode)
        // and turns the others into spaces.
        for (size_t i = 0; i < tokens.size(); ++i) {
          const bool drop = i == 0 && step.metaspace_strip_first;
          tokens[i] = replaceAll(tokens[i], step.text, drop ? std::string() : std::string(" "));
        }
        break;
    }
  }
  std::string text;
  for (const std::string& token : tokens) text += token;
  return utf8::repairLossy(text);
}

}  // namespace manifold
