// The one time module (core/time_text.h): every parser, the correlation engine, the alert JSON
// and the API read and write times through it, so its edges are pinned here once.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/time_text.h"

namespace vigil {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

std::int64_t Iso(const char* text) {
  std::int64_t ns = -1;
  EXPECT_EQ(match_iso8601(text, &ns), std::string(text).size()) << text;
  return ns;
}

std::int64_t Rfc(const char* text) {
  std::int64_t ns = -1;
  EXPECT_TRUE(parse_rfc3339_ns(text, &ns)) << text;
  return ns;
}

std::string Nine(std::int64_t ns) { return format_rfc3339(ns, Rfc3339Fraction::kNanoseconds); }
std::string Short(std::int64_t ns) { return format_rfc3339(ns, Rfc3339Fraction::kWhenNonZero); }

TEST(CivilDate, EpochLeapYearsAndRoundTrip) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2) << "2000 is a leap year";
  EXPECT_EQ(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1) << "1900 is not";
  EXPECT_EQ(days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28), 2);
  EXPECT_EQ(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
  EXPECT_EQ(days_from_civil(2023, 2, 30), days_from_civil(2023, 3, 2)) << "days roll over as timegm's do";
  for (std::int64_t d = days_from_civil(1677, 1, 1); d <= days_from_civil(2263, 1, 1); d += 37) {
    const CivilDate c = civil_from_days(d);
    ASSERT_EQ(days_from_civil(c.year, c.month, c.day), d) << d;
  }
  const CivilDate leap = civil_from_days(days_from_civil(2024, 2, 29));
  EXPECT_EQ(leap.year, 2024);
  EXPECT_EQ(leap.month, 2u);
  EXPECT_EQ(leap.day, 29u);
}

TEST(CivilDate, MonthAbbreviations) {
  EXPECT_EQ(month_from_abbrev("Jan"), 1);
  EXPECT_EQ(month_from_abbrev("Dec 31"), 12);
  EXPECT_EQ(month_from_abbrev("sep"), 9);
  EXPECT_EQ(month_from_abbrev("MAY"), 5);
  EXPECT_EQ(month_from_abbrev("Ja"), 0);
  EXPECT_EQ(month_from_abbrev("Jum"), 0);
  EXPECT_EQ(month_from_abbrev(""), 0);
}

TEST(Iso8601, ShapesOffsetsAndFractions) {
  EXPECT_EQ(Iso("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Iso("2003-10-11T22:14:15.003Z"), 1065910455 * kSec + 3'000'000);
  EXPECT_EQ(Iso("2003-10-11 22:14:15,5"), 1065910455 * kSec + 500'000'000) << "no zone is UTC; ',' fraction";
  EXPECT_EQ(Iso("2003-10-11t22:14"), 1065910440 * kSec) << "seconds optional";
  const std::int64_t utc = Iso("2024-01-02T03:11:12Z");
  EXPECT_EQ(Iso("2024-01-02T10:11:12+07:00"), utc);
  EXPECT_EQ(Iso("2024-01-02T10:11:12+0700"), utc);
  EXPECT_EQ(Iso("2024-01-02T10:11:12+07"), utc);
  EXPECT_EQ(Iso("2024-01-01T22:41:12-04:30"), utc);
  EXPECT_EQ(Iso("2024-01-02T03:11:12.1234567891Z"), utc + 123'456'789) << "digits past ns ignored";
  std::int64_t ns = 0;
  EXPECT_EQ(match_iso8601("2024-01-02T03:11:12+25:00", &ns), 19u) << "not an offset: text after the time";
  EXPECT_EQ(ns, utc);
  EXPECT_EQ(match_iso8601("2024-01-02T03:11:12. done", &ns), 19u) << "a lone '.' is not a fraction";
  EXPECT_EQ(match_iso8601("2024-02-29T00:00:00Z rest", nullptr), 20u);
  for (const char* bad : {"2024-13-01T00:00:00Z", "2024-01-32T00:00:00Z", "2024-01-01T24:00:00Z",
                          "2024-01-01X00:00:00Z", "24-01-01T00:00:00Z", "2024-01-01T00"})
    EXPECT_EQ(match_iso8601(bad, &ns), 0u) << bad;
}

TEST(Iso8601, OutsideNineBillionSecondsIsUnknown) {
  // The lenient readers keep +-9e9 s (1684-10-19 .. 2255-03-14), inside int64 ns's 1677..2262.
  EXPECT_EQ(Iso("1684-11-01T00:00:00Z"), -8'998'905'600 * kSec);
  EXPECT_EQ(Iso("1684-10-01T00:00:00Z"), 0) << "unknown, not garbage";
  EXPECT_EQ(Iso("2255-03-14T00:00:00Z"), 8'999'942'400 * kSec);
  EXPECT_EQ(Iso("2255-07-01T00:00:00Z"), 0);
  EXPECT_EQ(Iso("1677-09-22T00:00:00Z"), 0);
  EXPECT_EQ(Iso("9999-12-31T23:59:59Z"), 0);
}

TEST(Rfc3339, StrictShape) {
  EXPECT_EQ(Rfc("2026-11-26T01:02:03.123456789Z"), 1795654923 * kSec + 123456789);
  EXPECT_EQ(Rfc("2026-11-26t01:02:03z"), 1795654923 * kSec);
  EXPECT_EQ(Rfc("2026-11-26 03:02:03+02:00"), 1795654923 * kSec);
  EXPECT_EQ(Rfc("2026-11-25T23:32:03-01:30"), 1795654923 * kSec);
  EXPECT_EQ(Rfc("2024-02-29T12:00:00Z") - Rfc("2024-02-28T12:00:00Z"), kDay * kSec);
  EXPECT_EQ(Rfc("2026-11-26T01:02:03.5Z"), 1795654923 * kSec + 500'000'000);
  std::int64_t ns = 7;
  for (const char* bad : {"", "2026-11-26T01:02Z", "2026-11-26T01:02:03", "2026-11-26T01:02:03.Z",
                          "2026-11-26T01:02:03,5Z", "2026-11-26T01:02:03+0200", "2026-11-26T01:02:03+02",
                          "2026-11-26T01:02:03Z ", "2026-00-26T01:02:03Z", "2026-11-26T01:60:03Z"})
    EXPECT_FALSE(parse_rfc3339_ns(bad, &ns)) << bad;
  EXPECT_EQ(ns, 7) << "a refused text leaves the output alone";
}

TEST(Rfc3339, ClampsBeyondInt64Nanoseconds) {
  EXPECT_EQ(Rfc("2262-04-11T23:47:16Z"), kMax);
  EXPECT_EQ(Rfc("9999-12-31T23:59:59Z"), kMax);
  EXPECT_EQ(Rfc("1610-05-01T02:45:40Z"), kMin);
  EXPECT_EQ(Rfc("0000-01-01T00:00:00Z"), kMin);
  EXPECT_EQ(Rfc("1677-09-22T00:00:00Z"), -9'223'286'400 * kSec) << "the strict reader keeps all of int64";
  EXPECT_EQ(Rfc("2262-04-11T00:00:00Z"), 9'223'286'400 * kSec);
}

TEST(Rfc3339, FormatsBothFractionStyles) {
  const std::int64_t t = 1795654923 * kSec;
  EXPECT_EQ(Nine(t), "2026-11-26T01:02:03.000000000Z");
  EXPECT_EQ(Short(t), "2026-11-26T01:02:03Z");
  EXPECT_EQ(Nine(t + 123456789), "2026-11-26T01:02:03.123456789Z");
  EXPECT_EQ(Short(t + 1), "2026-11-26T01:02:03.000000001Z");
  EXPECT_EQ(Short(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Short(-1), "1969-12-31T23:59:59.999999999Z") << "before 1970: the instant, floored";
  EXPECT_EQ(Short(Rfc("2024-02-29T23:59:60Z")), "2024-03-01T00:00:00Z") << "a leap second rolls over";
  EXPECT_EQ(Nine(kMax), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(Nine(kMin), "1677-09-21T00:12:43.145224192Z");
  for (const char* text : {"2000-02-29T00:00:00Z", "1677-09-22T00:00:00Z", "2262-04-11T00:00:00.500000000Z"})
    EXPECT_EQ(Short(Rfc(text)), text);
  EXPECT_EQ(format_rfc3339_ns(0), "") << "0 is 'not set' in the store";
  EXPECT_EQ(format_rfc3339_ns(-5), "");
  EXPECT_EQ(format_rfc3339_ns(t), Nine(t));
}

TEST(BsdStamp, Shapes) {
  EXPECT_EQ(match_bsd_timestamp("Mar 30 15:02:11 host sshd[1]: x"), 15u);
  EXPECT_EQ(match_bsd_timestamp("Mar  3 15:02:11 host"), 15u) << "space-padded day";
  EXPECT_EQ(match_bsd_timestamp("Mar 3 15:02:11 host"), 14u) << "unpadded day, as relays write it";
  EXPECT_EQ(match_bsd_timestamp("Mar 30 15:02:11.123456 host"), 22u);
  for (const char* bad : {"Mar 30 24:02:11", "Mar 30 15:60:11", "Mar 30 15:02:61", "Mxr 30 15:02:11",
                          "Mar 30 15-02-11", "Mar30 15:02:11", "Mar 30 15:02"})
    EXPECT_EQ(match_bsd_timestamp(bad), 0u) << bad;
}

TEST(BsdStamp, YearFromTheReferenceAcrossNewYear) {
  const std::int64_t nov26 = Rfc("2026-11-26T00:00:00Z");
  const std::int64_t jan2 = Rfc("2026-01-02T00:00:00Z");
  std::int64_t ns = 0;
  ASSERT_TRUE(bsd_timestamp_ns("Mar 30 15:02:11", nov26, &ns));
  EXPECT_EQ(Short(ns), "2026-03-30T15:02:11Z");
  ASSERT_TRUE(bsd_timestamp_ns("Dec 31 23:59:59", jan2, &ns));
  EXPECT_EQ(Short(ns), "2025-12-31T23:59:59Z") << "a month ahead of the reference: last year";
  ASSERT_TRUE(bsd_timestamp_ns("Jan  1 00:00:01", Rfc("2025-12-31T23:59:59Z"), &ns));
  EXPECT_EQ(Short(ns), "2025-01-01T00:00:01Z") << "stamps never move into the next year";
  ASSERT_TRUE(bsd_timestamp_ns("Feb  2 00:00:00", jan2, &ns));
  EXPECT_EQ(Short(ns), "2026-02-02T00:00:00Z") << "31 days ahead is still clock skew";
  ASSERT_TRUE(bsd_timestamp_ns("Feb  2 00:00:01", jan2, &ns));
  EXPECT_EQ(Short(ns), "2025-02-02T00:00:01Z");
  ASSERT_TRUE(bsd_timestamp_ns("Feb 29 12:00:00", Rfc("2024-06-01T00:00:00Z"), &ns));
  EXPECT_EQ(Short(ns), "2024-02-29T12:00:00Z");
  ASSERT_TRUE(bsd_timestamp_ns("Feb 29 12:00:00", Rfc("2025-06-01T00:00:00Z"), &ns));
  EXPECT_EQ(Short(ns), "2025-03-01T12:00:00Z") << "Feb 29 of a common year rolls over, as timegm did";
  ASSERT_TRUE(bsd_timestamp_ns("Mar 30 15:02:11.25 host", nov26, &ns));
  EXPECT_EQ(Short(ns), "2026-03-30T15:02:11.250000000Z");
  ASSERT_TRUE(bsd_timestamp_ns("mar 3 15:02:11", nov26, &ns)) << "the stamps the syslog parser accepts";
  EXPECT_EQ(Short(ns), "2026-03-03T15:02:11Z");
  ns = 7;
  EXPECT_EQ(match_bsd_timestamp("Mar 00 15:02:11"), 15u) << "the shape passes";
  EXPECT_FALSE(bsd_timestamp_ns("Mar 00 15:02:11", nov26, &ns)) << "but day 0 is no date";
  EXPECT_FALSE(bsd_timestamp_ns("Mar 32 15:02:11", nov26, &ns));
  EXPECT_FALSE(bsd_timestamp_ns("2026-03-30T15:02:11Z", nov26, &ns));
  EXPECT_EQ(ns, 7);
}

TEST(OtherStamps, ApacheAndEpoch) {
  std::int64_t ns = 0;
  ASSERT_TRUE(parse_apache_time("10/Oct/2000:13:55:36 -0700", &ns));
  EXPECT_EQ(ns, Rfc("2000-10-10T20:55:36Z"));
  EXPECT_FALSE(parse_apache_time("10/Oct/2000 13:55:36 -0700", &ns));
  ASSERT_TRUE(parse_epoch("1700000000", &ns));
  EXPECT_EQ(ns, 1700000000 * kSec);
  ASSERT_TRUE(parse_epoch("1700000000.25", &ns));
  EXPECT_EQ(ns, 1700000000 * kSec + 250'000'000);
  ASSERT_TRUE(parse_epoch("1700000000123", &ns));
  EXPECT_EQ(ns, 1700000000123 * 1'000'000);
  ASSERT_TRUE(parse_epoch("1700000000123456789", &ns));
  EXPECT_EQ(ns, 1700000000123456789);
  for (const char* bad : {"", "+1700000000", "17000x", "1700000000.", "12345678901234567890", "9999999999999999999"})
    EXPECT_FALSE(parse_epoch(bad, &ns)) << bad;
}

}  // namespace
}  // namespace vigil
