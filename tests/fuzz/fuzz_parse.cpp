// Every parser: the first input byte picks the format (auto-detection or one LogFormat forced),
// the rest is split into lines, each parsed as a record of one stream (so that a W3C "#Fields:"
// directive applies to the lines after it) by parse(), then by parse_selected() with a fixed
// selection, plain and keep_escaped. Also the cheap per-record helpers the matcher runs first.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/parse/parser.h"
#include "padded.h"

namespace {

using vigil::Event;
using vigil::LogFormat;

// Names from several layouts (Windows mapping, ECS-style dotted, syslog, CEF, device formats)
// and the time and host sources, so parse_selected's skip-or-descend paths are all taken.
const vigil::parse::FieldSelection& selection() {
  static const vigil::parse::FieldSelection wanted({
      "EventID", "Image", "CommandLine", "Provider_Name", "winlog.user.name", "host.name",
      "message", "msg", "src", "dst", "act", "cs1", "type", "user", "request", "status",
      "Channel", "a.b.c", "0", "", "suser", "cs-uri-stem", "devname", "syscall"});
  return wanted;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static vigil::parse::RecordParser parser;
  const auto count = static_cast<unsigned>(LogFormat::kFormatCount);
  const auto format = static_cast<LogFormat>(data[0] % count);  // 0 = kUnknown = auto
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  parser.reset_streams();
  std::vector<int> ids;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const vigil::fuzz::PaddedRecord record(input.substr(start, end - start));
    (void)vigil::parse::detect_format(record.view());
    (void)vigil::parse::values_may_differ_from_raw(format == LogFormat::kUnknown ? LogFormat::kPlain : format,
                                                   record.view());
    Event event;
    event.raw = record.view();
    event.source = "fuzz";
    const LogFormat detected = parser.detect(event, format);
    vigil::parse::precheck(event, detected);
    event.raw = record.view();
    (void)parser.parse(format, event);
    (void)parser.parse_selected(format, event, selection(), ids, false);
    (void)parser.parse_selected(format, event, selection(), ids, true);
    // What the matcher does with a value left escaped: decode it when a rule reads it.
    vigil::StringArena arena;
    for (const vigil::Field& field : event.fields.fields()) {
      std::string_view decoded;
      if (field.escaped) (void)vigil::parse::decode_json_string(field.value, arena, &decoded);
    }
    start = end + 1;
  }
  return 0;
}
