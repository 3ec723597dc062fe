#pragma once
// Times as text, both ways: the stamps log records carry (ISO 8601 / RFC 3339, BSD syslog,
// Apache %t, epoch numbers) read into Unix nanoseconds, and RFC 3339 written back out. Every
// parser, the correlation engine, the alert store's JSON and the API go through these, so one
// record's time reads the same wherever it is read and every output writes it the same way.
//
// Times are int64 nanoseconds since 1970-01-01 UTC, which span only the years 1677..2262. The
// lenient record readers give 0 (unknown) for a time more than 9e9 s from 1970 (before
// 1684-10-19 or after 2255-03-14; the margin keeps offsets and fractions from overflowing); the
// strict RFC 3339 parser uses all of int64 and clamps to INT64_MIN / INT64_MAX beyond it, since
// its callers (the API's filters, a receiver's payload) compare the result and must not see a
// far-off time as "unknown". No function here touches the
// C library's time zone state (no timegm, no gmtime_r): all arithmetic is proleptic Gregorian.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

// ---- civil dates ------------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). A day past
// the month's end rolls into the next month ("Feb 30" is Mar 1 or 2), as timegm does.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};
// The inverse: the date `days` after 1970-01-01 (negative: before).
CivilDate civil_from_days(std::int64_t days);

// "Jan".."Dec" at the start of s -> 1..12, else 0. The first letter may be lower case and the
// other two either case ("jan", "JAN"), as relays rewrite syslog stamps.
int month_from_abbrev(std::string_view s);

// A UTC civil time minus `offset_sec` (the zone's offset east of UTC) in Unix nanoseconds; 0 when
// more than 9e9 s from 1970. Fields are not range-checked (callers validate); overflowing ones roll over.
std::int64_t civil_to_unix_ns(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned sec,
                              std::int64_t frac_ns, std::int64_t offset_sec);

// ---- reading record stamps (lenient: a prefix, 0 for an unrepresentable time) -----------------

// Length of an ISO-8601 / RFC 3339 timestamp at the start of s
// ("2003-10-11T22:14:15.003Z", "2019-05-18 20:35:52.569", "2024-01-02T10:11:12+07:00",
// "...+0700", "...+07"; seconds optional; ',' also starts a fraction), 0 if none. With `unix_ns`,
// also converts it (no zone = UTC; 0 when more than 9e9 s from 1970).
std::size_t match_iso8601(std::string_view s, std::int64_t* unix_ns);

// Length of a BSD syslog (RFC 3164) timestamp "Mmm dd hh:mm:ss" at the start of s (the day may be
// space-padded or, as some relays write it, not padded at all; optional ".fraction"), 0 if none.
std::size_t match_bsd_timestamp(std::string_view s);

// Converts the BSD stamp at the start of s. It has no year, so the year is inferred from
// `reference_ns` (the receive time): the reference's year, or the year before when that would put
// the stamp more than 31 days after the reference (so "Dec 31" received on Jan 1 is last year's),
// the rule rsyslog follows. False when s does not start with a BSD stamp or its day is not 1..31.
bool bsd_timestamp_ns(std::string_view s, std::int64_t reference_ns, std::int64_t* unix_ns);

// Converts "10/Oct/2000:13:55:36 -0700" (Apache %t without brackets). False if not that shape.
bool parse_apache_time(std::string_view s, std::int64_t* unix_ns);

// Epoch number in s ("1700000000", "1700000000.25", "1700000000123"), scaled by magnitude (s, ms,
// us or ns) to ns. False if not all digits (one '.' and a fraction allowed for seconds).
bool parse_epoch(std::string_view s, std::int64_t* unix_ns);

// ---- RFC 3339, strict (the API and stored-alert form) -----------------------------------------

// Exactly YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM) and nothing else; digits of the
// fraction beyond nanoseconds are ignored. A time after 2262 gives INT64_MAX, before 1677
// INT64_MIN. False for anything else, leaving *unix_ns alone.
bool parse_rfc3339_ns(std::string_view text, std::int64_t* unix_ns);

enum class Rfc3339Fraction {
  kNanoseconds,  // always ".123456789": fixed width, so stored and listed times line up and sort
  kWhenNonZero,  // ".123456789" only when the time is not whole seconds: for text people read
};
// "2026-11-26T01:02:03.123456789Z" (UTC). Times before 1970 are written as the instant they are.
std::string format_rfc3339(std::int64_t unix_ns, Rfc3339Fraction fraction);

// The stored-alert form: format_rfc3339(unix_ns, kNanoseconds), but "" for 0 or a negative time,
// which in the store and the API mean "not set".
std::string format_rfc3339_ns(std::int64_t unix_ns);

}  // namespace vigil
