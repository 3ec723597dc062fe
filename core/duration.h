#pragma once
// Durations as users write them in rules, config and on the command line: a whole number and a
// unit, "250ms", "90s", "10m", "2h", "7d"; a bare "0" is zero. One parser for the correlation
// timespans and suppression windows, the analyst API's grouping window, the silent-source
// cadence and `vigil alerts --since`, so that a duration means the same everywhere.
//
// Thread-safety: free function without shared state.
#include <cstdint>
#include <string_view>

namespace vigil {

// Nanoseconds in `text`; false if malformed or beyond the int64 range. Zero ("0", "0s") is
// accepted: a caller that needs a positive duration checks the result.
bool parse_duration(std::string_view text, std::int64_t* out_ns);

}  // namespace vigil
