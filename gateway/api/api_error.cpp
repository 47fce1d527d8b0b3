#include "gateway/api/api_error.h"

namespace manifold::gateway {
namespace {

const char* errorType(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable_error";
    default:
      return http_status >= 500 ? "server_error" : "invalid_request_error";
  }
}

// OpenAI's machine-readable codes where it has one; otherwise null.
nlohmann::json errorCode(int http_status, std::string_view message) {
  switch (http_status) {
    case 401:
      return "invalid_api_key";
    case 404:
      return message.rfind("The model", 0) == 0 ? "model_not_found" : "not_found";
    case 405:
      return "method_not_allowed";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_exceeded";
    default:
      return nullptr;
  }
}

std::string_view paramFromMessage(std::string_view message) {
  if (message.size() < 3 || message[0] != '`') return {};
  size_t end = message.find('`', 1);
  if (end == std::string_view::npos) return {};
  return message.substr(1, end - 1);
}

}  // namespace

int httpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnimplemented:
      return 400;  // a valid field value we do not support
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kAborted:
      return 503;
    case StatusCode::kDataLoss:
      return 500;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

nlohmann::json errorJson(int http_status, std::string_view message, std::string_view param) {
  if (param.empty()) param = paramFromMessage(message);
  nlohmann::json error = {
      {"message", std::string(message)},
      {"type", errorType(http_status)},
      {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(param))},
      {"code", errorCode(http_status, message)},
  };
  return {{"error", std::move(error)}};
}

HttpResponse errorResponse(int http_status, std::string_view message, std::string_view param) {
  HttpResponse response;
  response.status = http_status;
  response.body = dumpJson(errorJson(http_status, message, param));
  if (http_status == 429 || http_status == 503) response.headers.emplace_back("Retry-After", "1");
  if (http_status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

HttpResponse errorResponse(const Status& status, std::string_view param) {
  return errorResponse(httpStatusFor(status.code()), status.message(), param);
}

std::string dumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dumpJson(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace manifold::gateway
