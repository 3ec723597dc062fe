#include "rules/keyword_prefilter.h"

#include <algorithm>
#include <array>
#include <utility>
#include <bit>
#include <tuple>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/ascii.h"
#include "core/cpu.h"

namespace vigil::rules {

namespace {

bool is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Rough share of each byte in log text (JSON Windows events, syslog): letters by English
// frequency, JSON punctuation and path separators common, other punctuation rare. Only used to
// prefer rare n-grams; results never depend on it.
double byte_share(unsigned char c) {
  static const double letters[26] = {
      0.070, 0.012, 0.035, 0.035, 0.100, 0.018, 0.016, 0.030, 0.060, 0.002, 0.006, 0.040, 0.025,
      0.060, 0.060, 0.020, 0.001, 0.060, 0.060, 0.070, 0.025, 0.010, 0.015, 0.004, 0.012, 0.001};
  if (is_letter(c)) return letters[ascii_lower(static_cast<char>(c)) - 'a'];
  if (c >= '0' && c <= '9') return 0.012;
  switch (c) {
    case ' ': return 0.05;
    case '"': return 0.04;
    case '\\': return 0.03;
    case ':': return 0.02;
    case '.': case ',': return 0.015;
    case '-': case '/': case '_': case '{': case '}': return 0.006;
    default: return 0.002;
  }
}

// Whether the backslash at `bs` (followed by u or /) starts an escape: an even run of
// backslashes before it.
bool real_escape_at(const char* begin, const char* bs) {
  const char* q = bs;
  while (q > begin && q[-1] == '\\') --q;
  return ((bs - q) & 1) == 0;  // an even run before it: this backslash starts an escape
}

// Whether one of the backslashes `mask` marks (bit i: p[i] is a backslash followed by u or /)
// starts an escape.
bool real_escape_in(const char* begin, const char* p, unsigned mask) {
  for (; mask != 0; mask &= mask - 1)
    if (real_escape_at(begin, p + __builtin_ctz(mask))) return true;
  return false;
}

bool noncanonical_escape_tail(const char* begin, const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i backslash = _mm_set1_epi8('\\'), u = _mm_set1_epi8('u'), slash = _mm_set1_epi8('/');
  for (; p + 17 <= end; p += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(
        _mm_cmpeq_epi8(a, backslash), _mm_or_si128(_mm_cmpeq_epi8(b, u), _mm_cmpeq_epi8(b, slash)))));
    if (real_escape_in(begin, p, mask)) return true;
  }
#endif
  for (; p + 1 < end; ++p)
    if (p[0] == '\\' && (p[1] == 'u' || p[1] == '/') && real_escape_at(begin, p)) return true;
  return false;
}

#if defined(__x86_64__)
// Bit i: p[i] is a backslash followed by 'u' or '/' (an escape if real_escape_in says so).
__attribute__((target("avx2"), always_inline)) inline unsigned escape_candidates(const char* p) {
  const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
  return static_cast<unsigned>(_mm256_movemask_epi8(_mm256_and_si256(
      _mm256_cmpeq_epi8(x0, _mm256_set1_epi8('\\')),
      _mm256_or_si256(_mm256_cmpeq_epi8(x1, _mm256_set1_epi8('u')), _mm256_cmpeq_epi8(x1, _mm256_set1_epi8('/'))))));
}

__attribute__((target("avx2"))) bool noncanonical_escape_avx2(std::string_view s) {
  const char* const begin = s.data();
  const char* const end = begin + s.size();
  const char* p = begin;
  for (; p + 33 <= end; p += 32)
    if (real_escape_in(begin, p, escape_candidates(p))) return true;
  return noncanonical_escape_tail(begin, p, end);
}
#endif

}  // namespace

KeywordPrefilter KeywordPrefilter::build(const std::vector<Pattern>& patterns) {
  KeywordPrefilter none;
  // Many patterns would need more n-grams than kMaxGrams anyway; the search below is quadratic.
  if (patterns.empty() || patterns.size() > 64) return none;
  std::vector<Pattern> pats = patterns;
  for (Pattern& p : pats) {
    if (p.text.size() < 2) return none;
    for (char& c : p.text) c = static_cast<char>(c | 0x20);  // as the test compares
  }
  // Candidates: every 2- and 3-byte substring of every pattern, each with the set of patterns
  // whose every occurrence holds it (at most 64 patterns: one bit each).
  std::vector<Gram> candidates;
  for (const Pattern& p : pats)
    for (std::uint8_t size : {std::uint8_t{2}, std::uint8_t{3}})
      for (std::size_t i = 0; i + size <= p.text.size(); ++i) {
        Gram g;
        g.size = size;
        for (std::size_t k = 0; k < size; ++k) g.byte[k] = static_cast<std::uint8_t>(p.text[i + k]);
        candidates.push_back(g);
      }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::vector<std::uint64_t> covers(candidates.size(), 0);
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    const std::string_view gram(reinterpret_cast<const char*>(candidates[c].byte), candidates[c].size);
    for (std::size_t i = 0; i < pats.size(); ++i)
      if (pats[i].text.find(gram) != std::string::npos) covers[c] |= std::uint64_t{1} << i;
  }
  auto share = [](const Gram& g) {
    double s = 1;
    for (std::size_t k = 0; k < g.size; ++k) {
      // A folded byte stands for itself and its partner without the 0x20 bit (letters: the
      // table counts both cases already).
      const std::uint8_t b = g.byte[k];
      s *= is_letter(b) ? byte_share(b) : byte_share(b) + byte_share(static_cast<unsigned char>(b & ~0x20));
    }
    return s;
  };
  // Greedy weighted cover: the n-gram that covers the most uncovered patterns per unit of cost,
  // where a gram costs its expected occurrences plus a fixed price for being tested at all (so
  // that "::", in 15 of Mimikatz's 21 keywords, beats a rarer 3-gram in 4 of them).
  constexpr double kGramPrice = 0.001;
  const std::uint64_t all = pats.size() == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << pats.size()) - 1;
  std::uint64_t covered = 0;
  KeywordPrefilter out;
  while (covered != all) {
    if (out.grams_.size() == kMaxGrams) return none;
    double best_value = 0;
    std::size_t best = candidates.size();
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      const int n = std::popcount(covers[c] & ~covered);
      const double value = static_cast<double>(n) / (share(candidates[c]) + kGramPrice);
      if (n > 0 && value > best_value) {
        best_value = value;
        best = c;
      }
    }
    if (best == candidates.size()) return none;  // cannot happen: a pattern covers itself
    covered |= covers[best];
    out.grams_.push_back(candidates[best]);
  }
  return out;
}

bool KeywordPrefilter::Gram::operator<(const Gram& o) const {
  return std::tie(size, byte[0], byte[1], byte[2]) < std::tie(o.size, o.byte[0], o.byte[1], o.byte[2]);
}
bool KeywordPrefilter::Gram::operator==(const Gram& o) const {
  return size == o.size && byte[0] == o.byte[0] && byte[1] == o.byte[1] && byte[2] == o.byte[2];
}

std::string KeywordPrefilter::describe() const {
  std::string s;
  for (const Gram& g : grams_) {
    if (!s.empty()) s += ", ";
    s.append(reinterpret_cast<const char*>(g.byte), g.size);
  }
  return s;
}

#if defined(__x86_64__)
namespace {

// Where a gram starts in the 32 positions from p: each gram is the AND of its bytes'
// comparisons at offsets 0, 1 and (grams [0, N3) only) 2, after OR 0x20; the grams are ORed.
// N and N3 are template arguments so that the loop is unrolled with no per-gram branch.
template <std::size_t N, std::size_t N3>
__attribute__((target("avx2"), always_inline)) inline __m256i gram_starts(const __m256i (*value)[3],
                                                                          const char* p) {
  const __m256i bit = _mm256_set1_epi8(0x20);
  const __m256i f0 = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), bit);
  const __m256i f1 = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1)), bit);
  __m256i f2 = f0;
  if constexpr (N3 > 0)
    f2 = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)), bit);
  __m256i any = _mm256_setzero_si256();
  for (std::size_t g = 0; g < N; ++g) {
    __m256i m = _mm256_and_si256(_mm256_cmpeq_epi8(f0, value[g][0]), _mm256_cmpeq_epi8(f1, value[g][1]));
    if (g < N3) m = _mm256_and_si256(m, _mm256_cmpeq_epi8(f2, value[g][2]));
    any = _mm256_or_si256(any, m);
  }
  return any;
}

// Whether any gram starts in the 32 positions from p. A named function with its own target
// attribute, not a lambda: lambdas do not inherit target("avx2") from the enclosing function.
template <std::size_t N, std::size_t N3>
__attribute__((target("avx2"), always_inline)) inline bool grams_at(const __m256i (*value)[3], const char* p) {
  const __m256i any = gram_starts<N, N3>(value, p);
  return !_mm256_testz_si256(any, any);
}


// The grams (the first N3 of 3 bytes, the others of 2) over `bytes`, 32 start positions a step,
// and the escape test (noncanonical_escape_avx2's) in the same pass when asked for. Full steps
// run without masks: both tests while neither is settled, then the one still open alone (the
// grams alone 64 positions a step); the last, partial step masks the starts past the last
// pair. Loads read up to 34 bytes past a step's start, within the record's padding.
template <std::size_t N, std::size_t N3>
__attribute__((target("avx2"))) bool grams_avx2(const std::uint8_t (*grams)[3], std::string_view bytes,
                                                bool* noncanonical_escape) {
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  __m256i value[N][3];
  for (std::size_t g = 0; g < N; ++g)
    for (std::size_t k = 0; k < 3; ++k) value[g][k] = _mm256_set1_epi8(static_cast<char>(grams[g][k]));
  const bool want_escape = noncanonical_escape != nullptr;
  bool found = false, escape = false;
  const char* p = begin;
  // A full step: all 32 starts come before the last byte (p + 31 < end - 1).
  if (want_escape) {
    for (; p + 33 <= end; p += 32) {
      found = grams_at<N, N3>(value, p);
      escape = real_escape_in(begin, p, escape_candidates(p));
      if (found || escape) break;
    }
    if (found && !escape)
      for (; p + 33 <= end && !escape; p += 32) escape = real_escape_in(begin, p, escape_candidates(p));
  }
  if (!found && !(want_escape && !escape)) {
    // The grams alone (no escape test asked for, or one already found).
    for (; p + 65 <= end; p += 64) {
      const __m256i any = _mm256_or_si256(gram_starts<N, N3>(value, p), gram_starts<N, N3>(value, p + 32));
      if (!_mm256_testz_si256(any, any)) {
        found = true;
        break;
      }
    }
    for (; !found && p + 33 <= end; p += 32) found = grams_at<N, N3>(value, p);
  }
  // The last, partial step (fewer than 32 starts before the last byte), if still needed.
  if (p + 1 < end && (!found || (want_escape && !escape))) {
    const std::ptrdiff_t starts = end - 1 - p;  // 1..32
    const unsigned valid = starts < 32 ? (1u << starts) - 1 : ~0u;
    if (!found) found = (static_cast<unsigned>(_mm256_movemask_epi8(gram_starts<N, N3>(value, p))) & valid) != 0;
    if (want_escape && !escape) escape = real_escape_in(begin, p, escape_candidates(p) & valid);
  }
  if (want_escape) *noncanonical_escape = escape;
  return found;
}

using GramKernel = bool (*)(const std::uint8_t (*)[3], std::string_view, bool*);
template <std::size_t N, std::size_t... N3>
constexpr std::array<GramKernel, N + 1> kernels_for(std::index_sequence<N3...>) {
  return {&grams_avx2<N, N3>...};
}

}  // namespace

bool KeywordPrefilter::may_match_avx2(std::string_view bytes, bool* noncanonical_escape) const {
  // Three-byte grams first: grams_avx2<N, N3> compares a third byte for the first N3.
  std::uint8_t grams[kMaxGrams][3];
  std::size_t n = 0;
  for (const Gram& g : grams_)
    if (g.size == 3) {
      std::copy(g.byte, g.byte + 3, grams[n++]);
    }
  const std::size_t n3 = n;
  for (const Gram& g : grams_)
    if (g.size != 3) {
      std::copy(g.byte, g.byte + 3, grams[n++]);
    }
  static_assert(kMaxGrams == 6);
  static constexpr auto k1 = kernels_for<1>(std::make_index_sequence<2>{});
  static constexpr auto k2 = kernels_for<2>(std::make_index_sequence<3>{});
  static constexpr auto k3 = kernels_for<3>(std::make_index_sequence<4>{});
  static constexpr auto k4 = kernels_for<4>(std::make_index_sequence<5>{});
  static constexpr auto k5 = kernels_for<5>(std::make_index_sequence<6>{});
  static constexpr auto k6 = kernels_for<6>(std::make_index_sequence<7>{});
  switch (n) {
    case 1: return k1[n3](grams, bytes, noncanonical_escape);
    case 2: return k2[n3](grams, bytes, noncanonical_escape);
    case 3: return k3[n3](grams, bytes, noncanonical_escape);
    case 4: return k4[n3](grams, bytes, noncanonical_escape);
    case 5: return k5[n3](grams, bytes, noncanonical_escape);
    default: return k6[n3](grams, bytes, noncanonical_escape);
  }
}
#endif

bool KeywordPrefilter::may_match(std::string_view bytes) const {
  if (grams_.empty()) return true;
#if defined(__x86_64__)
  if (cpu_has_avx2()) return may_match_avx2(bytes, nullptr);
#endif
  // Without AVX2 the test is no cheaper than Hyperscan's scan: let it scan.
  return true;
}

bool KeywordPrefilter::may_match(std::string_view bytes, bool* noncanonical_escape) const {
#if defined(__x86_64__)
  if (!grams_.empty() && cpu_has_avx2()) return may_match_avx2(bytes, noncanonical_escape);
#endif
  *noncanonical_escape = has_noncanonical_escape(bytes);
  return true;
}

bool has_noncanonical_escape(std::string_view s) {
#if defined(__x86_64__)
  if (cpu_has_avx2() && s.size() >= 64) return noncanonical_escape_avx2(s);
#endif
  return noncanonical_escape_tail(s.data(), s.data(), s.data() + s.size());
}


}  // namespace vigil::rules
