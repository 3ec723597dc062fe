#include "core/event.h"

#include <algorithm>
#include <cstring>

namespace vigil {

const char* to_string(LogFormat format) {
  switch (format) {
    case LogFormat::kUnknown: return "auto";
    case LogFormat::kJson: return "json";
    case LogFormat::kRfc3164: return "rfc3164";
    case LogFormat::kRfc5424: return "rfc5424";
    case LogFormat::kCef: return "cef";
    case LogFormat::kKeyValue: return "kv";
    case LogFormat::kAccessLog: return "access";
    case LogFormat::kPlain: return "plain";
    case LogFormat::kW3c: return "w3c";
    case LogFormat::kCisco: return "cisco";
    case LogFormat::kPanos: return "panos";
    case LogFormat::kLeef: return "leef";
    case LogFormat::kAuditd: return "auditd";
    case LogFormat::kWinXml: return "winxml";
    case LogFormat::kFormatCount: break;
  }
  return "auto";
}

bool parse_log_format(std::string_view name, LogFormat* out) {
  struct Name { std::string_view text; LogFormat format; };
  static constexpr Name kNames[] = {
      {"auto", LogFormat::kUnknown},     {"json", LogFormat::kJson},
      {"ndjson", LogFormat::kJson},      {"rfc3164", LogFormat::kRfc3164},
      {"syslog", LogFormat::kRfc3164},   {"rfc5424", LogFormat::kRfc5424},
      {"cef", LogFormat::kCef},          {"kv", LogFormat::kKeyValue},
      {"keyvalue", LogFormat::kKeyValue}, {"access", LogFormat::kAccessLog},
      {"combined", LogFormat::kAccessLog}, {"plain", LogFormat::kPlain},
      {"w3c", LogFormat::kW3c},          {"iis", LogFormat::kW3c},
      {"cisco", LogFormat::kCisco},      {"asa", LogFormat::kCisco},
      {"ftd", LogFormat::kCisco},        {"ios", LogFormat::kCisco},
      {"panos", LogFormat::kPanos},      {"paloalto", LogFormat::kPanos},
      {"leef", LogFormat::kLeef},        {"auditd", LogFormat::kAuditd},
      {"winxml", LogFormat::kWinXml},
  };
  for (const Name& n : kNames) {
    if (n.text == name) {
      *out = n.format;
      return true;
    }
  }
  return false;
}

const char* to_string(ParseErrorKind kind) {
  switch (kind) {
    case ParseErrorKind::kNone: return "none";
    case ParseErrorKind::kTruncatedJson: return "truncated_json";
    case ParseErrorKind::kInvalidJson: return "invalid_json";
    case ParseErrorKind::kInvalidUtf8: return "invalid_utf8";
    case ParseErrorKind::kOversize: return "oversize";
    case ParseErrorKind::kBinary: return "binary";
    case ParseErrorKind::kWrongFormat: return "wrong_format";
    case ParseErrorKind::kFieldCount: return "field_count";
    case ParseErrorKind::kTruncatedRecord: return "truncated_record";
    case ParseErrorKind::kDamagedRecord: return "damaged_record";
    case ParseErrorKind::kTruncatedXml: return "truncated_xml";
    case ParseErrorKind::kInvalidXml: return "invalid_xml";
    case ParseErrorKind::kCount: break;
  }
  return "unknown";
}

std::string_view StringArena::copy(std::string_view s) {
  char* p = allocate(s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return std::string_view(p, s.size());
}

char* StringArena::allocate(std::size_t n) {
  if (!chunks_.empty()) {
    Chunk& last = chunks_.back();
    if (last.size - last.used >= n) {
      char* p = last.data.get() + last.used;
      last.used += n;
      return p;
    }
  }
  std::size_t size = std::max<std::size_t>(n, 16 * 1024);
  Chunk chunk;
  chunk.data.reset(new char[size]);
  chunk.size = size;
  chunk.used = n;
  chunks_.push_back(std::move(chunk));
  return chunks_.back().data.get();
}

void StringArena::clear() {
  if (chunks_.empty()) return;
  chunks_.resize(1);
  chunks_[0].used = 0;
}

}  // namespace vigil
