#include <simdjson.h>

#include <cstring>

#include "core/parse/parser.h"

namespace vigil::parse {

void precheck(Event& event, LogFormat format) {
  std::string_view raw = event.raw;
  event.format = format;
  event.parse_error = ParseErrorKind::kNone;
  if (std::memchr(raw.data(), '\0', raw.size()) != nullptr) {
    event.parse_error = ParseErrorKind::kBinary;
    return;
  }
  if (event.format == LogFormat::kJson) {
    std::size_t end = raw.size();
    while (end > 0 && (raw[end - 1] == ' ' || raw[end - 1] == '\t' || raw[end - 1] == '\r' ||
                       raw[end - 1] == '\n'))
      --end;
    if (end == 0 || raw[end - 1] != '}') {
      event.parse_error = ParseErrorKind::kTruncatedJson;
      return;
    }
  }
  if (!simdjson::validate_utf8(raw.data(), raw.size()))
    event.parse_error = ParseErrorKind::kInvalidUtf8;
}

}  // namespace vigil::parse
