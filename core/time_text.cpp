#include "core/time_text.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace vigil {

namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;
// Seconds either side of 1970 that the lenient parsers accept; int64 ns reach about 9.22e9 s.
constexpr std::int64_t kMaxUnixSeconds = 9'000'000'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at s[pos]; false if any is not a digit or s is too short.
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

bool valid_clock(unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned sec) {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

// ".123456789" (or ",123...") at s[pos]: advances pos, returns ns. Digits past 9 are read and
// ignored. A lone '.' is not part of the time: pos stays.
std::int64_t read_fraction(std::string_view s, std::size_t* pos) {
  std::size_t p = *pos;
  if (p >= s.size() || (s[p] != '.' && s[p] != ',')) return 0;
  ++p;
  std::int64_t ns = 0;
  int digits = 0;
  while (p < s.size() && is_digit(s[p])) {
    if (digits < 9) {
      ns = ns * 10 + (s[p] - '0');
      ++digits;
    }
    ++p;
  }
  if (digits == 0) return 0;
  for (int i = digits; i < 9; ++i) ns *= 10;
  *pos = p;
  return ns;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct BsdStamp {
  unsigned month, day, hour, minute, second;
  std::int64_t frac_ns;
  std::size_t length;
};

bool read_bsd(std::string_view s, BsdStamp* out) {
  if (s.size() < 14 || s[3] != ' ') return false;
  const int mo = month_from_abbrev(s);
  if (mo == 0) return false;
  std::size_t t;  // where the hour starts
  unsigned day;
  if (is_digit(s[4]) && s[5] == ' ') {
    t = 6, day = static_cast<unsigned>(s[4] - '0');
  } else if ((s[4] == ' ' || is_digit(s[4])) && is_digit(s[5]) && s.size() >= 15 && s[6] == ' ') {
    t = 7, day = (s[4] == ' ' ? 0 : static_cast<unsigned>(s[4] - '0') * 10) + static_cast<unsigned>(s[5] - '0');
  } else {
    return false;
  }
  unsigned h, mi, sec;
  if (!read_digits(s, t, 2, &h) || s[t + 2] != ':' || !read_digits(s, t + 3, 2, &mi) || s[t + 5] != ':' ||
      !read_digits(s, t + 6, 2, &sec) || h > 23 || mi > 59 || sec > 60)
    return false;
  std::size_t pos = t + 8;
  const std::int64_t frac = read_fraction(s, &pos);
  *out = BsdStamp{static_cast<unsigned>(mo), day, h, mi, sec, frac, pos};
  return true;
}

}  // namespace

// ---- civil dates ------------------------------------------------------------------------------

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

int month_from_abbrev(std::string_view s) {
  if (s.size() < 3) return 0;
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    const char* m = kMonths[i];
    if ((s[0] == m[0] || s[0] == (m[0] | 0x20)) && (s[1] | 0x20) == m[1] && (s[2] | 0x20) == m[2])
      return i + 1;
  }
  return 0;
}

std::int64_t civil_to_unix_ns(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned sec,
                              std::int64_t frac_ns, std::int64_t offset_sec) {
  const std::int64_t days = days_from_civil(y, mo, d);
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_sec;
  if (secs <= -kMaxUnixSeconds || secs >= kMaxUnixSeconds) return 0;
  return secs * kNsPerSec + frac_ns;
}

// ---- reading record stamps --------------------------------------------------------------------

std::size_t match_iso8601(std::string_view s, std::int64_t* unix_ns) {
  // YYYY-MM-DD[T ]hh:mm[:ss][.frac][Z|+hh:mm|+hhmm|+hh]
  unsigned y, mo, d, h, mi, sec = 0;
  if (!read_digits(s, 0, 4, &y) || s.size() < 16 || s[4] != '-' || !read_digits(s, 5, 2, &mo) ||
      s[7] != '-' || !read_digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
      !read_digits(s, 11, 2, &h) || s[13] != ':' || !read_digits(s, 14, 2, &mi))
    return 0;
  std::size_t pos = 16;
  if (pos + 3 <= s.size() && s[pos] == ':' && read_digits(s, pos + 1, 2, &sec)) pos += 3;
  if (!valid_clock(mo, d, h, mi, sec)) return 0;
  const std::int64_t frac = read_fraction(s, &pos);
  std::int64_t offset = 0;
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      unsigned oh, om = 0;
      if (read_digits(s, pos + 1, 2, &oh)) {
        std::size_t q = pos + 3;
        if (q < s.size() && s[q] == ':' && read_digits(s, q + 1, 2, &om)) {
          q += 3;
        } else if (read_digits(s, q, 2, &om)) {
          q += 2;
        }
        // An out-of-range "offset" is text after the time, not part of it.
        if (oh <= 23 && om <= 59) {
          offset = static_cast<std::int64_t>(oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
          pos = q;
        }
      }
    }
  }
  if (unix_ns) *unix_ns = civil_to_unix_ns(y, mo, d, h, mi, sec, frac, offset);
  return pos;
}

std::size_t match_bsd_timestamp(std::string_view s) {
  BsdStamp b;
  return read_bsd(s, &b) ? b.length : 0;
}

bool bsd_timestamp_ns(std::string_view s, std::int64_t reference_ns, std::int64_t* unix_ns) {
  BsdStamp b;
  // The stamp's shape alone passes day 0 or 32..99 (the parsers only need to know where it
  // ends); a time needs a real day.
  if (!read_bsd(s, &b) || b.day < 1 || b.day > 31) return false;
  const std::int64_t ref_secs = floor_div(reference_ns, kNsPerSec);
  const std::int64_t ref_year = civil_from_days(floor_div(ref_secs, 86400)).year;
  const auto at = [&](std::int64_t year) {
    return days_from_civil(year, b.month, b.day) * 86400 + b.hour * 3600 + b.minute * 60 + b.second;
  };
  // A stamp a little ahead of the reference is clock skew; a month or more ahead is last year's.
  std::int64_t secs = at(ref_year);
  if (secs > ref_secs + 31LL * 86400) secs = at(ref_year - 1);
  *unix_ns = secs * kNsPerSec + b.frac_ns;
  return true;
}

bool parse_apache_time(std::string_view s, std::int64_t* unix_ns) {
  // 10/Oct/2000:13:55:36 -0700
  unsigned d, y, h, mi, sec;
  if (s.size() < 20 || !read_digits(s, 0, 2, &d) || s[2] != '/') return false;
  const int mo = month_from_abbrev(s.substr(3));
  if (mo == 0 || s[6] != '/' || !read_digits(s, 7, 4, &y) || s[11] != ':' || !read_digits(s, 12, 2, &h) ||
      s[14] != ':' || !read_digits(s, 15, 2, &mi) || s[17] != ':' || !read_digits(s, 18, 2, &sec) ||
      !valid_clock(static_cast<unsigned>(mo), d, h, mi, sec))
    return false;
  std::int64_t offset = 0;
  if (s.size() >= 26 && s[20] == ' ' && (s[21] == '+' || s[21] == '-')) {
    unsigned oh, om;
    if (read_digits(s, 22, 2, &oh) && read_digits(s, 24, 2, &om))
      offset = static_cast<std::int64_t>(oh * 3600 + om * 60) * (s[21] == '-' ? -1 : 1);
  }
  *unix_ns = civil_to_unix_ns(y, static_cast<unsigned>(mo), d, h, mi, sec, 0, offset);
  return true;
}

bool parse_epoch(std::string_view s, std::int64_t* unix_ns) {
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  // At most 19 digits, which always fit a uint64; from_chars takes no sign or space.
  std::uint64_t v = 0;
  if (whole.empty() || whole.size() > 19) return false;
  const auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), v);
  if (ec != std::errc() || end != whole.data() + whole.size()) return false;
  std::int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::size_t pos = dot;
    frac = read_fraction(s, &pos);
    if (pos != s.size()) return false;
  }
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  const auto iv = static_cast<std::int64_t>(v);
  std::int64_t scale = kNsPerSec;                       // seconds
  if (v >= 100'000'000'000'000'000ull) scale = 1;       // ns
  else if (v >= 100'000'000'000'000ull) scale = 1000;   // us
  else if (v >= 100'000'000'000ull) scale = 1'000'000;  // ms
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(iv, scale, &ns)) return false;
  if (scale == kNsPerSec && __builtin_add_overflow(ns, frac, &ns)) return false;
  *unix_ns = ns;
  return true;
}

// ---- RFC 3339 ---------------------------------------------------------------------------------

bool parse_rfc3339_ns(std::string_view s, std::int64_t* unix_ns) {
  unsigned y, mo, d, h, mi, sec;
  if (!read_digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !read_digits(s, 5, 2, &mo) || s[7] != '-' ||
      !read_digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !read_digits(s, 11, 2, &h) ||
      s[13] != ':' || !read_digits(s, 14, 2, &mi) || s[16] != ':' || !read_digits(s, 17, 2, &sec))
    return false;
  if (!valid_clock(mo, d, h, mi, sec)) return false;
  std::size_t pos = 19;
  std::int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    frac = read_fraction(s, &pos);
    if (pos == 19) return false;  // '.' without digits
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    unsigned oh, om;
    if (!read_digits(s, pos + 1, 2, &oh) || !read_digits(s, pos + 4, 2, &om)) return false;
    offset_s = static_cast<std::int64_t>(oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kNsPerSec - 1;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  if (secs >= kMaxSeconds) {
    *unix_ns = std::numeric_limits<std::int64_t>::max();
  } else if (secs <= -kMaxSeconds) {
    *unix_ns = std::numeric_limits<std::int64_t>::min();
  } else {
    *unix_ns = secs * kNsPerSec + frac;
  }
  return true;
}

std::string format_rfc3339(std::int64_t unix_ns, Rfc3339Fraction fraction) {
  const std::int64_t secs = floor_div(unix_ns, kNsPerSec);
  const std::int64_t frac = unix_ns % kNsPerSec + (unix_ns % kNsPerSec < 0 ? kNsPerSec : 0);
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t in_day = secs - days * 86400;
  const CivilDate date = civil_from_days(days);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(date.year),
                        date.month, date.day, static_cast<long long>(in_day / 3600),
                        static_cast<long long>(in_day / 60 % 60), static_cast<long long>(in_day % 60));
  if (fraction == Rfc3339Fraction::kNanoseconds || frac != 0)
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%09lld", static_cast<long long>(frac));
  buf[n++] = 'Z';
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string format_rfc3339_ns(std::int64_t unix_ns) {
  if (unix_ns <= 0) return "";
  return format_rfc3339(unix_ns, Rfc3339Fraction::kNanoseconds);
}

}  // namespace vigil
