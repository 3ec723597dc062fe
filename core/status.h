#pragma once
// Status and Result<T>: the error currency at every module boundary.
// After RocksDB's Status (named factories) and simdjson's error codes (checked, never ignored).
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace vigil {

enum class StatusCode : unsigned char {
  kOk = 0,
  kInvalidArgument,  // the caller gave something malformed (a bad rule, a bad config value)
  kNotFound,         // a file, rule or field that was asked for does not exist
  kIoError,          // the operating system refused (open, read, write)
  kParseError,       // input bytes do not follow the expected format
  kUnsupported,      // well-formed but uses a feature vigil does not implement
  kInternal,         // a bug: an invariant did not hold
};

const char* to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status ParseError(std::string msg) { return Status(StatusCode::kParseError, std::move(msg)); }
  static Status Unsupported(std::string msg) { return Status(StatusCode::kUnsupported, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>"
  std::string to_string() const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
using Result = tl::expected<T, Status>;

// return Error(Status::NotFound("..."));  inside a function returning Result<T>.
inline tl::unexpected<Status> Error(Status status) { return tl::unexpected<Status>(std::move(status)); }

}  // namespace vigil
