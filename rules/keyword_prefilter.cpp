#include "rules/keyword_prefilter.h"

#include <algorithm>

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

}  // namespace

KeywordPrefilter KeywordPrefilter::build(const std::vector<Pattern>& patterns) {
  KeywordPrefilter none;
  // Many patterns would need more n-grams than kMaxGrams anyway; the search below is quadratic.
  if (patterns.empty() || patterns.size() > 64) return none;
  std::vector<Pattern> pats = patterns;
  for (Pattern& p : pats) {
    if (p.text.size() < 2) return none;
    if (p.caseless)
      for (char& c : p.text) c = ascii_lower(c);
  }
  // Does an occurrence of pattern p always contain gram g (under g's comparison)?
  auto covers = [](const Gram& g, const Pattern& p) {
    for (std::size_t i = 0; i + g.size <= p.text.size(); ++i) {
      bool all = true;
      for (std::size_t k = 0; k < g.size && all; ++k) {
        const auto c = static_cast<unsigned char>(p.text[i + k]);
        if (p.caseless && is_letter(c)) {
          all = g.fold[k] != 0 && c == g.byte[k];  // any case in the record: g must fold
        } else {
          all = g.fold[k] != 0 ? static_cast<unsigned char>(c | 0x20) == g.byte[k] : c == g.byte[k];
        }
      }
      if (all) return true;
    }
    return false;
  };
  // Candidates: every 2- and 3-byte substring of every pattern, compared as its pattern is.
  std::vector<Gram> candidates;
  for (const Pattern& p : pats)
    for (std::uint8_t size : {std::uint8_t{2}, std::uint8_t{3}})
      for (std::size_t i = 0; i + size <= p.text.size(); ++i) {
        Gram g;
        g.size = size;
        for (std::size_t k = 0; k < size; ++k) {
          const auto c = static_cast<unsigned char>(p.text[i + k]);
          g.byte[k] = c;
          g.fold[k] = p.caseless && is_letter(c) ? 0x20 : 0;
        }
        candidates.push_back(g);
      }
  auto share = [](const Gram& g) {
    double s = 1;
    for (std::size_t k = 0; k < g.size; ++k) s *= byte_share(g.byte[k]);
    return s;
  };
  // Greedy weighted cover: the n-gram that covers the most uncovered patterns per unit of cost,
  // where a gram costs its expected occurrences plus a fixed price for being tested at all (so
  // that "::", in 15 of Mimikatz's 21 keywords, beats a rarer 3-gram in 4 of them).
  constexpr double kGramPrice = 0.001;
  std::vector<bool> covered(pats.size(), false);
  std::size_t left = pats.size();
  KeywordPrefilter out;
  while (left > 0) {
    if (out.grams_.size() == kMaxGrams) return none;
    double best_value = 0;
    const Gram* best = nullptr;
    for (const Gram& g : candidates) {
      std::size_t n = 0;
      for (std::size_t i = 0; i < pats.size(); ++i)
        if (!covered[i] && covers(g, pats[i])) ++n;
      const double value = static_cast<double>(n) / (share(g) + kGramPrice);
      if (n > 0 && value > best_value) {
        best_value = value;
        best = &g;
      }
    }
    if (best == nullptr) return none;  // cannot happen: a pattern covers itself
    for (std::size_t i = 0; i < pats.size(); ++i)
      if (!covered[i] && covers(*best, pats[i])) {
        covered[i] = true;
        --left;
      }
    out.grams_.push_back(*best);
  }
  return out;
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
// 32 start positions a step: each gram is the AND of its bytes' comparisons at offsets 0, 1, 2
// (caseless letters compared after OR 0x20), the grams are ORed. Loads read up to 34 bytes past
// a step's start, within the record's padding; a gram found partly in the padding only costs an
// unneeded Hyperscan scan.
__attribute__((target("avx2"))) bool KeywordPrefilter::may_match_avx2(std::string_view bytes) const {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  __m256i value[kMaxGrams][3];
  __m256i fold[kMaxGrams][3];
  const std::size_t n = grams_.size();
  for (std::size_t g = 0; g < n; ++g)
    for (std::size_t k = 0; k < 3; ++k) {
      value[g][k] = _mm256_set1_epi8(static_cast<char>(grams_[g].byte[k]));
      fold[g][k] = _mm256_set1_epi8(static_cast<char>(grams_[g].fold[k]));
    }
  for (; p + 1 < end; p += 32) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
    const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
    __m256i any = _mm256_setzero_si256();
    for (std::size_t g = 0; g < n; ++g) {
      __m256i m = _mm256_and_si256(
          _mm256_cmpeq_epi8(_mm256_or_si256(x0, fold[g][0]), value[g][0]),
          _mm256_cmpeq_epi8(_mm256_or_si256(x1, fold[g][1]), value[g][1]));
      if (grams_[g].size == 3)
        m = _mm256_and_si256(m, _mm256_cmpeq_epi8(_mm256_or_si256(x2, fold[g][2]), value[g][2]));
      any = _mm256_or_si256(any, m);
    }
    auto mask = static_cast<unsigned>(_mm256_movemask_epi8(any));
    // Only n-grams that start before the last byte (a 2-gram's last possible start) count.
    const std::ptrdiff_t starts = end - 1 - p;
    if (starts < 32) mask &= (1u << starts) - 1;
    if (mask != 0) return true;
  }
  return false;
}
#endif

bool KeywordPrefilter::may_match(std::string_view bytes) const {
  if (grams_.empty()) return true;
#if defined(__x86_64__)
  if (cpu_has_avx2()) return may_match_avx2(bytes);
#endif
  // Without AVX2 the test is no cheaper than Hyperscan's scan: let it scan.
  return true;
}

}  // namespace vigil::rules
