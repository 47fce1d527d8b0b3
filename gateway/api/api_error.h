// The one place where errors become HTTP statuses and OpenAI-shaped error JSON:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// Every component returns Status; handlers and the HTTP layer render it here.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "gateway/http/http_message.h"

namespace manifold::gateway {

[[nodiscard]] int httpStatusFor(StatusCode code);

// The error object for `http_status`. `param` names the offending request field; when empty and
// the message starts with a back-quoted field name ("`n` must be ..."), that name is used.
[[nodiscard]] nlohmann::json errorJson(int http_status, std::string_view message,
                                       std::string_view param = {});

[[nodiscard]] HttpResponse errorResponse(int http_status, std::string_view message,
                                         std::string_view param = {});
[[nodiscard]] HttpResponse errorResponse(const Status& status, std::string_view param = {});

// JSON text that never throws: invalid UTF-8 (from a model's output) becomes U+FFFD.
[[nodiscard]] std::string dumpJson(const nlohmann::json& value);
[[nodiscard]] std::string dumpJson(const nlohmann::ordered_json& value);

}  // namespace manifold::gateway
