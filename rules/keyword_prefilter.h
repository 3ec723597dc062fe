#pragma once
// KeywordPrefilter: a cheap necessary condition for a keyword database to match a raw record.
//
// Keyword rules search every value, so their literals are scanned over the whole raw record of
// every event their route applies to. One `product: windows` keyword rule (SigmaHQ's "Mimikatz
// Use") applies to every Windows event: that scan is Hyperscan's speed for the literal set
// (about 5 GB/s), and it almost never finds anything.
//
// The prefilter holds a few short n-grams (2 or 3 bytes) chosen so that every literal of the
// database (each form it is scanned in) contains at least one of them: a record that holds none
// cannot match, and its Hyperscan scan is skipped. The test runs 32 positions at a time with
// AVX2, chosen at run time (without AVX2 it would be no faster than Hyperscan: every record is
// scanned). Bytes are compared with their 0x20 bit set on both sides: letters match in either
// case, and a few other pairs match each other (':' and 0x1a, '\' and '|'), which only lets a
// record through now and then. Rare n-grams are preferred ("mim" rather than "mi"), by a rough
// table of how often each byte occurs in log text; that choice affects only speed, never
// results.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::rules {

class KeywordPrefilter {
 public:
  struct Pattern {
    std::string text;  // as scanned (caseless: any case)
    bool caseless = true;
  };
  // At most this many n-grams: beyond it the test costs more than it saves.
  static constexpr std::size_t kMaxGrams = 6;

  // Chooses the n-grams for `patterns`. Inactive (may_match is always true) when some pattern
  // is shorter than 2 bytes or more than kMaxGrams n-grams would be needed.
  static KeywordPrefilter build(const std::vector<Pattern>& patterns);

  bool active() const { return !grams_.empty(); }
  // False only when no pattern can occur in `bytes`. `bytes` must be followed by 32 readable
  // bytes (vigil's records have 64 bytes of padding).
  bool may_match(std::string_view bytes) const;
  // The same, and has_noncanonical_escape(bytes) in the same pass over the bytes (the matcher
  // needs both of every raw record a keyword route applies to).
  bool may_match(std::string_view bytes, bool* noncanonical_escape) const;
  // "mim, kiw, ::" (for reports and tests).
  std::string describe() const;

 private:
  struct Gram {
    std::uint8_t size = 0;      // 2 or 3
    std::uint8_t byte[3] = {};  // with the 0x20 bit set
    bool operator<(const Gram& o) const;
    bool operator==(const Gram& o) const;
  };
#if defined(__x86_64__)
  bool may_match_avx2(std::string_view bytes, bool* noncanonical_escape) const;
#endif
  std::vector<Gram> grams_;
};

// True when a JSON string's content (as written) holds an escape other than \\, \", \b, \f,
// \n, \r, \t: one the canonical JSON escaping of its decoded text would write differently
// (\uXXXX, \/). The SIMD test looks for a backslash before 'u' or '/' and checks the parity of
// the backslash run only there (a path like c:\\users has an escaped backslash before the u).
// It runs over raw records whose keyword routes have no prefilter running (may_match does it
// otherwise) and over the values of route layouts about to be scanned; it has an AVX2 version
// (32 bytes a step instead of SSE2's 16), chosen at run time.
bool has_noncanonical_escape(std::string_view s);

}  // namespace vigil::rules
