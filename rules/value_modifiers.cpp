#include "rules/value_modifiers.h"
#include "core/ascii.h"
#include "core/ip_network.h"


#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <utility>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace vigil::rules {
namespace {

// ---- Sigma strings: literal text interrupted by wildcards ----

struct Part {
  enum class Kind : std::uint8_t { kText, kStar, kOne };
  Kind kind = Kind::kText;
  std::string text;  // kText only
};
using Glob = std::vector<Part>;

Part star() { return Part{Part::Kind::kStar, {}}; }
Part text_part(std::string s) { return Part{Part::Kind::kText, std::move(s)}; }

// pySigma's SigmaString parser: `*` and `?` are wildcards; a backslash escapes `*`, `?` and `\`
// and is kept as a literal backslash before anything else (and at the end of the value).
Glob parse_glob(std::string_view s) {
  Glob out;
  std::string acc;
  bool escaped = false;
  auto flush = [&] {
    if (!acc.empty()) out.push_back(text_part(std::move(acc)));
    acc.clear();
  };
  for (char c : s) {
    if (escaped) {
      if (c != '*' && c != '?' && c != '\\') acc += '\\';
      acc += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '*' || c == '?') {
      flush();
      out.push_back(Part{c == '*' ? Part::Kind::kStar : Part::Kind::kOne, {}});
    } else {
      acc += c;
    }
  }
  if (escaped) acc += '\\';
  flush();
  return out;
}

Glob literal_glob(std::string s) {
  Glob g;
  if (!s.empty()) g.push_back(text_part(std::move(s)));
  return g;
}

bool has_wildcard(const Glob& g) {
  for (const Part& p : g)
    if (p.kind != Part::Kind::kText) return true;
  return false;
}

std::string glob_literal(const Glob& g) {
  std::string s;
  for (const Part& p : g) s += p.text;
  return s;
}

bool starts_with_star(const Glob& g) { return !g.empty() && g.front().kind == Part::Kind::kStar; }
bool ends_with_star(const Glob& g) { return !g.empty() && g.back().kind == Part::Kind::kStar; }

// Merges adjacent text parts and collapses runs of `*` (same language, simpler patterns).
Glob normalise(const Glob& g) {
  Glob out;
  for (const Part& p : g) {
    if (p.kind == Part::Kind::kText) {
      if (p.text.empty()) continue;
      if (!out.empty() && out.back().kind == Part::Kind::kText) {
        out.back().text += p.text;
        continue;
      }
    } else if (p.kind == Part::Kind::kStar && !out.empty() &&
               out.back().kind == Part::Kind::kStar) {
      continue;
    }
    out.push_back(p);
  }
  return out;
}

// ---- UTF-8 helpers ----

// Decodes one code point at s[i]; returns its length, or 0 for an invalid sequence.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t* cp) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t len;
  char32_t c;
  if (b < 0x80) {
    *cp = b;
    return 1;
  } else if ((b & 0xE0) == 0xC0) {
    len = 2;
    c = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    c = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    c = b & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    auto cb = static_cast<unsigned char>(s[i + k]);
    if ((cb & 0xC0) != 0x80) return 0;
    c = (c << 6) | (cb & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kMin[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

// Python's \w for str patterns (Unicode letters, digits, underscore). Exact for ASCII; for other
// code points an approximation that treats the common punctuation, symbol and space blocks as
// non-word (the dashes windash produces among them) and everything else as word.
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c >= 0x80 && c <= 0xBF)
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
           c == 0xBC || c == 0xBD || c == 0xBE;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x2BFF) return false;  // punctuation, symbols, arrows, box drawing
  if (c >= 0x3000 && c <= 0x303F) return false;  // CJK punctuation
  if (c >= 0xFE30 && c <= 0xFE4F) return false;
  if (c >= 0xFF00 && c <= 0xFF0F) return false;
  return true;
}

// ---- The value being transformed by modifiers ----

struct Val {
  enum class Kind : std::uint8_t {
    kString, kNumber, kBool, kNull, kRegex, kExists, kCidr, kFieldRef, kCompare
  };
  Kind kind = Kind::kString;
  Glob glob;         // kString
  std::string text;  // original text (kString before glob parsing), number, regex, cidr, field
  bool cased = false;
  bool re_i = false, re_m = false, re_s = false;
  bool ref_start = false, ref_end = false;
  MatchOp compare = MatchOp::kLt;
  double number = 0;
  bool exists = true;
};

const char* kind_name(Val::Kind k) {
  switch (k) {
    case Val::Kind::kString: return "a string";
    case Val::Kind::kNumber: return "a number";
    case Val::Kind::kBool: return "a boolean";
    case Val::Kind::kNull: return "null";
    case Val::Kind::kRegex: return "a regular expression";
    case Val::Kind::kExists: return "an exists test";
    case Val::Kind::kCidr: return "a CIDR network";
    case Val::Kind::kFieldRef: return "a field reference";
    case Val::Kind::kCompare: return "a numeric comparison";
  }
  return "a value";
}

// Numbers and booleans take string modifiers as their text (pySigma would refuse; a rule
// author writing `EventID|startswith: 46` means the text).
bool as_string(Val& v) {
  if (v.kind == Val::Kind::kNumber || v.kind == Val::Kind::kBool) {
    v.glob = literal_glob(v.text);
    v.kind = Val::Kind::kString;
  }
  return v.kind == Val::Kind::kString;
}

bool parse_number(std::string_view text, double* out) {
  std::string_view t = text;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  if (t.empty()) return false;
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(t.data(), end, *out);
  return ec == std::errc() && ptr == end && std::isfinite(*out);
}

enum class Mod : std::uint8_t {
  kContains, kStartsWith, kEndsWith, kAll, kBase64, kBase64Offset, kUtf16le, kUtf16be, kUtf16,
  kWindash, kRe, kReI, kReM, kReS, kCased, kExists, kCidr, kLt, kLte, kGt, kGte, kFieldRef,
  kNeq, kExpand, kTimePart,
};

bool lookup_modifier(std::string_view name, Mod* out) {
  struct Entry { std::string_view name; Mod mod; };
  static constexpr Entry kMods[] = {
      {"contains", Mod::kContains},   {"startswith", Mod::kStartsWith},
      {"endswith", Mod::kEndsWith},   {"all", Mod::kAll},
      {"base64", Mod::kBase64},       {"base64offset", Mod::kBase64Offset},
      {"utf16le", Mod::kUtf16le},     {"wide", Mod::kUtf16le},
      {"utf16be", Mod::kUtf16be},     {"utf16", Mod::kUtf16},
      {"windash", Mod::kWindash},     {"re", Mod::kRe},
      {"i", Mod::kReI},               {"ignorecase", Mod::kReI},
      {"m", Mod::kReM},               {"multiline", Mod::kReM},
      {"s", Mod::kReS},               {"dotall", Mod::kReS},
      {"cased", Mod::kCased},         {"exists", Mod::kExists},
      {"cidr", Mod::kCidr},           {"lt", Mod::kLt},
      {"lte", Mod::kLte},             {"gt", Mod::kGt},
      {"gte", Mod::kGte},             {"fieldref", Mod::kFieldRef},
      {"neq", Mod::kNeq},             {"expand", Mod::kExpand},
      {"minute", Mod::kTimePart},     {"hour", Mod::kTimePart},
      {"day", Mod::kTimePart},        {"week", Mod::kTimePart},
      {"month", Mod::kTimePart},      {"year", Mod::kTimePart},
  };
  for (const Entry& e : kMods) {
    if (e.name == name) {
      *out = e.mod;
      return true;
    }
  }
  return false;
}

DetectionError error(std::string reason, std::string message) {
  return DetectionError{std::move(reason), std::move(message)};
}

// Built by appends: GCC 12 at -O3 misreports `"'" + std::string(s)` as overlapping memcpy.
std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out.append(s);
  out += '\'';
  return out;
}

// Encodes the literal parts of a glob; wildcards stay wildcards.
DetectionResult<Glob> encode_utf16(const Glob& g, bool big_endian, bool bom, std::string_view mod) {
  Glob out;
  if (bom) out.push_back(text_part(big_endian ? std::string("\xFE\xFF", 2) : std::string("\xFF\xFE", 2)));
  for (const Part& p : g) {
    if (p.kind != Part::Kind::kText) {
      out.push_back(p);
      continue;
    }
    std::string enc;
    if (!utf8_to_utf16(p.text, big_endian, &enc))
      return tl::unexpected(error("bad_value", std::string(mod) + ": value is not valid UTF-8"));
    out.push_back(text_part(std::move(enc)));
  }
  return normalise(out);
}

constexpr std::size_t kMaxWindashVariants = 4096;

// Windash over a glob: slots are the `-`/`/` characters that start a word within a text part
// (pySigma matches \B[-/]\b on each text part separately, so part edges are string edges).
DetectionResult<std::vector<Glob>> windash_glob(const Glob& g) {
  static const char* const kDashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};
  // Split every text part into segments around the slots.
  struct Piece { bool slot; Part part; };
  std::vector<Piece> pieces;
  std::size_t slots = 0;
  for (const Part& p : g) {
    if (p.kind != Part::Kind::kText) {
      pieces.push_back(Piece{false, p});
      continue;
    }
    const std::string& s = p.text;
    // Decode to code points with byte offsets.
    std::vector<std::pair<std::size_t, char32_t>> cps;
    for (std::size_t i = 0; i < s.size();) {
      char32_t c;
      std::size_t n = decode_utf8(s, i, &c);
      if (n == 0) {
        c = 0xFFFD;  // invalid byte: treat as a word character, keep the byte
        n = 1;
      }
      cps.emplace_back(i, c);
      i += n;
    }
    std::string acc;
    for (std::size_t k = 0; k < cps.size(); ++k) {
      std::size_t start = cps[k].first;
      std::size_t end = k + 1 < cps.size() ? cps[k + 1].first : s.size();
      char32_t c = cps[k].second;
      bool slot = false;
      if (c == '-' || c == '/') {
        bool prev_word = k > 0 && is_word_char(cps[k - 1].second);
        bool next_word = k + 1 < cps.size() && is_word_char(cps[k + 1].second);
        slot = !prev_word && next_word;
      }
      if (slot) {
        if (!acc.empty()) pieces.push_back(Piece{false, text_part(std::move(acc))});
        acc.clear();
        pieces.push_back(Piece{true, {}});
        ++slots;
      } else {
        acc.append(s, start, end - start);
      }
    }
    if (!acc.empty()) pieces.push_back(Piece{false, text_part(std::move(acc))});
  }
  std::size_t total = 1;
  for (std::size_t i = 0; i < slots; ++i) {
    total *= 5;
    if (total > kMaxWindashVariants)
      return tl::unexpected(error("bad_value", "windash: " + std::to_string(slots) +
                                                   " dashes expand to more than " +
                                                   std::to_string(kMaxWindashVariants) +
                                                   " variants"));
  }
  std::vector<Glob> out;
  out.reserve(total);
  for (std::size_t n = 0; n < total; ++n) {
    // Variant n: the slot choices are the base-5 digits of n, first slot most significant, so
    // the variants come out in pySigma's order (the first dash varies slowest).
    std::vector<int> choice(slots);
    std::size_t rest = n;
    for (std::size_t i = slots; i-- > 0;) {
      choice[i] = static_cast<int>(rest % 5);
      rest /= 5;
    }
    Glob v;
    std::size_t slot = 0;
    for (const Piece& pc : pieces)
      v.push_back(pc.slot ? text_part(kDashes[choice[slot++]]) : pc.part);
    out.push_back(normalise(v));
  }
  return out;
}

// ---- Turning final values into predicates ----

void escape_regex_literal(std::string_view s, std::string& out) {
  static constexpr std::string_view kMeta = "\\^$.|?*+()[]{}";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (kMeta.find(ch) != std::string_view::npos) {
      out += '\\';
      out += ch;
    } else {
      out += ch;
    }
  }
}

CondNode string_node(const Glob& raw, const std::string& field, bool cased, PredicateTable& table) {
  Glob g = normalise(raw);
  Predicate p;
  p.field = field;
  p.cased = cased;
  if (g.size() == 1 && g[0].kind == Part::Kind::kStar) {
    if (field.empty()) return make_const_node(true);  // a keyword `*` matches every event
    p.op = MatchOp::kExists;
    p.exists_expected = true;
    p.cased = false;
    return make_pred_node(table.intern(p));
  }
  if (!has_wildcard(g)) {
    p.op = MatchOp::kEquals;
    p.value = glob_literal(g);
    return make_pred_node(table.intern(p));
  }
  bool lead = starts_with_star(g), trail = ends_with_star(g);
  std::size_t begin = lead ? 1 : 0, end = g.size() - (trail ? 1 : 0);
  bool inner_wildcard = false;
  for (std::size_t i = begin; i < end; ++i)
    if (g[i].kind != Part::Kind::kText) inner_wildcard = true;
  if (!inner_wildcard && end == begin + 1) {
    p.value = g[begin].text;
    p.op = lead && trail ? MatchOp::kContains : lead ? MatchOp::kEndsWith : MatchOp::kStartsWith;
    return make_pred_node(table.intern(p));
  }
  std::string rx;
  if (!lead) rx += '^';
  for (std::size_t i = begin; i < end; ++i) {
    switch (g[i].kind) {
      case Part::Kind::kText: escape_regex_literal(g[i].text, rx); break;
      case Part::Kind::kStar: rx += ".*"; break;
      case Part::Kind::kOne: rx += '.'; break;
    }
  }
  if (!trail) rx += '$';
  p.op = MatchOp::kRegex;
  p.value = std::move(rx);
  p.regex_i = !cased;
  p.regex_s = true;
  return make_pred_node(table.intern(p));
}

DetectionResult<CondNode> final_node(const Val& v, const std::string& field, bool keyword_search,
                                     PredicateTable& table) {
  Predicate p;
  p.field = field;
  switch (v.kind) {
    case Val::Kind::kString: {
      Glob g = v.glob;
      if (keyword_search) {  // a keyword is a substring search unless positioned explicitly
        if (!starts_with_star(g)) g.insert(g.begin(), star());
        if (!ends_with_star(g)) g.push_back(star());
      }
      return string_node(g, field, v.cased, table);
    }
    case Val::Kind::kNumber:
    case Val::Kind::kBool:
      p.op = field.empty() ? MatchOp::kContains : MatchOp::kEquals;
      p.value = v.text;
      p.cased = v.cased;
      return make_pred_node(table.intern(p));
    case Val::Kind::kNull:
      if (field.empty())
        return tl::unexpected(error("bad_value", "null must be bound to a field (keyword null)"));
      p.op = MatchOp::kNull;
      return make_pred_node(table.intern(p));
    case Val::Kind::kRegex: {
      std::string problem = check_regex(v.text, v.re_i, v.re_m, v.re_s);
      if (!problem.empty())
        return tl::unexpected(error("bad_regex", "regular expression " + quoted(v.text) + ": " + problem));
      p.op = MatchOp::kRegex;
      p.value = v.text;
      p.regex_i = v.re_i;
      p.regex_m = v.re_m;
      p.regex_s = v.re_s;
      return make_pred_node(table.intern(p));
    }
    case Val::Kind::kExists:
      p.op = MatchOp::kExists;
      p.exists_expected = v.exists;
      return make_pred_node(table.intern(p));
    case Val::Kind::kCidr:
      p.op = MatchOp::kCidr;
      p.value = v.text;
      return make_pred_node(table.intern(p));
    case Val::Kind::kFieldRef:
      p.op = v.ref_start && v.ref_end ? MatchOp::kFieldRefContains
             : v.ref_start            ? MatchOp::kFieldRefStartsWith
             : v.ref_end              ? MatchOp::kFieldRefEndsWith
                                      : MatchOp::kFieldRefEquals;
      p.value = v.text;
      p.cased = v.cased;
      return make_pred_node(table.intern(p));
    case Val::Kind::kCompare:
      p.op = v.compare;
      p.number = v.number;
      p.value = v.text;
      return make_pred_node(table.intern(p));
  }
  return tl::unexpected(error("bad_value", "unhandled value kind"));
}

CondNode link(CondNode::Kind kind, std::vector<CondNode> children) {
  if (children.size() == 1) return std::move(children[0]);
  CondNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

bool matches_any(const std::string& s, std::initializer_list<const char*> options) {
  for (const char* o : options)
    if (s == o) return true;
  return false;
}

bool looks_like_int(std::string_view s, std::string* decimal) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    int base = s[1] == 'x' ? 16 : 8;
    unsigned long long v = 0;
    for (char c : s.substr(2)) {
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))
                  ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                  : -1;
      if (d < 0 || d >= base) return false;
      if (v > (~0ULL) / 16) return false;
      v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    }
    *decimal = std::to_string(v);
    return true;
  }
  std::string_view digits = s;
  bool minus = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    minus = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return false;
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *decimal = (minus ? "-" : "") + std::string(digits);
  return true;
}

bool looks_like_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::string_view rest = s.substr(i);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return true;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  bool exp = false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    exp = true;
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size() && (dot || exp);
}

}  // namespace

// ---- Values ----

SigmaValue plain_scalar_value(const std::string& s) {
  if (matches_any(s, {"true", "True", "TRUE"})) return SigmaValue::boolean(true);
  if (matches_any(s, {"false", "False", "FALSE"})) return SigmaValue::boolean(false);
  std::string decimal;
  if (looks_like_int(s, &decimal)) return SigmaValue::number(decimal);
  if (looks_like_float(s)) return SigmaValue::number(s);
  return SigmaValue::string(s);
}

// ---- PredicateTable ----

std::string predicate_key(const Predicate& p) {
  std::string k = p.field;
  k += '\x1f';
  k += to_string(p.op);
  k += '\x1f';
  k += p.value;
  k += '\x1f';
  k += p.cased ? 'C' : 'c';
  k += p.regex_i ? 'I' : 'i';
  k += p.regex_m ? 'M' : 'm';
  k += p.regex_s ? 'S' : 's';
  k += p.exists_expected ? 'E' : 'e';
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", p.number);
  k += buf;
  return k;
}

std::uint32_t PredicateTable::intern(const Predicate& p) {
  std::string key = predicate_key(p);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  auto idx = static_cast<std::uint32_t>(predicates_.size());
  predicates_.push_back(p);
  index_.emplace(std::move(key), idx);
  return idx;
}

CondNode make_pred_node(std::uint32_t index) {
  CondNode n;
  n.kind = CondNode::Kind::kPred;
  n.pred = index;
  return n;
}

CondNode make_const_node(bool value) {
  CondNode n;
  n.kind = value ? CondNode::Kind::kTrue : CondNode::Kind::kFalse;
  return n;
}

// ---- Encodings ----

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<std::string> base64offset_variants(std::string_view bytes) {
  // pySigma: b64encode(i * b" " + data)[start_offsets[i] : end_offsets[(len(data) + i) % 3]]
  // with start_offsets (0, 2, 3) and end_offsets (None, -3, -2), Python slice semantics.
  static constexpr long kStart[] = {0, 2, 3};
  static constexpr long kEnd[] = {0, -3, -2};  // 0 stands for None (to the end)
  std::vector<std::string> out;
  for (int i = 0; i < 3; ++i) {
    std::string data(static_cast<std::size_t>(i), ' ');
    data.append(bytes);
    std::string enc = base64_encode(data);
    auto len = static_cast<long>(enc.size());
    long start = std::min(kStart[i], len);
    long end_code = kEnd[(bytes.size() + static_cast<std::size_t>(i)) % 3];
    long end = end_code == 0 ? len : std::max(0L, len + end_code);
    out.push_back(start < end ? enc.substr(static_cast<std::size_t>(start),
                                           static_cast<std::size_t>(end - start))
                              : std::string());
  }
  return out;
}

bool utf8_to_utf16(std::string_view utf8, bool big_endian, std::string* out) {
  out->clear();
  auto unit = [&](std::uint16_t u) {
    char hi = static_cast<char>(u >> 8), lo = static_cast<char>(u & 0xFF);
    if (big_endian) {
      *out += hi;
      *out += lo;
    } else {
      *out += lo;
      *out += hi;
    }
  };
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t c;
    std::size_t n = decode_utf8(utf8, i, &c);
    if (n == 0) return false;
    i += n;
    if (c >= 0x10000) {
      c -= 0x10000;
      unit(static_cast<std::uint16_t>(0xD800 + (c >> 10)));
      unit(static_cast<std::uint16_t>(0xDC00 + (c & 0x3FF)));
    } else {
      unit(static_cast<std::uint16_t>(c));
    }
  }
  return true;
}

std::vector<std::string> windash_variants(std::string_view plain_text) {
  std::vector<std::string> out;
  auto r = windash_glob(literal_glob(std::string(plain_text)));
  if (!r) return out;
  for (const Glob& g : *r) out.push_back(glob_literal(g));
  return out;
}

std::string check_regex(std::string_view pattern, bool caseless, bool multiline, bool dotall) {
  // The same options the compiler (rules/compiler.cpp) uses, so that what loads also compiles.
  std::uint32_t options = 0;
  if (caseless) options |= PCRE2_CASELESS;
  if (multiline) options |= PCRE2_MULTILINE;
  if (dotall) options |= PCRE2_DOTALL;
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 options, &code, &offset, nullptr);
  if (re != nullptr) {
    pcre2_code_free(re);
    return "";
  }
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return std::string(reinterpret_cast<const char*>(buf)) + " at offset " + std::to_string(offset);
}

bool parse_cidr(std::string_view text, std::string* normalised, std::string* err) {
  std::string s(text);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  IpNetwork network;
  switch (parse_ip_network(s, &network)) {
    case IpNetworkError::kNone: break;
    case IpNetworkError::kBadAddress: *err = quoted(s) + " is not an IPv4 or IPv6 network"; return false;
    case IpNetworkError::kBadPrefix: *err = quoted(s) + ": bad prefix length"; return false;
  }
  if (network.host_bits_set) {
    *err = quoted(s) + " has host bits set";
    return false;
  }
  *normalised = format_ip_network(network);
  return true;
}

// ---- Detection items ----

DetectionResult<CondNode> build_detection_item(std::string_view key,
                                               const std::vector<SigmaValue>& values,
                                               PredicateTable& table) {
  std::string field;
  std::vector<std::pair<std::string, Mod>> mods;
  {
    std::size_t bar = key.find('|');
    field = std::string(key.substr(0, bar));
    while (bar != std::string_view::npos) {
      std::size_t next = key.find('|', bar + 1);
      std::string name(key.substr(bar + 1, next == std::string_view::npos ? next : next - bar - 1));
      Mod m;
      if (!lookup_modifier(name, &m))
        return tl::unexpected(error("unknown_modifier", "unknown modifier " + quoted(name) +
                                                            " in " + quoted(key)));
      if (m == Mod::kExpand)
        return tl::unexpected(error("unsupported_modifier",
                                    "modifier 'expand' in " + quoted(key) +
                                        ": placeholders (%name%) need values from a configuration "
                                        "that vigil does not have"));
      if (m == Mod::kTimePart)
        return tl::unexpected(error("unsupported_modifier",
                                    "time-part modifier " + quoted(name) + " in " + quoted(key) +
                                        " is not supported"));
      mods.emplace_back(std::move(name), m);
      bar = next;
    }
  }
  const bool keyword = field.empty();

  if (values.empty()) {
    // pySigma: a detection item without values is a null test of its field.
    if (keyword) return tl::unexpected(error("bad_value", "empty keyword list " + quoted(key)));
    Predicate p;
    p.field = field;
    p.op = MatchOp::kNull;
    return make_pred_node(table.intern(p));
  }

  // One group of alternatives (OR) per value as written.
  std::vector<std::vector<Val>> groups;
  for (const SigmaValue& sv : values) {
    Val v;
    v.text = sv.text;
    switch (sv.type) {
      case SigmaValue::Type::kString:
        v.kind = Val::Kind::kString;
        v.glob = parse_glob(sv.text);
        break;
      case SigmaValue::Type::kNumber: v.kind = Val::Kind::kNumber; break;
      case SigmaValue::Type::kBool: v.kind = Val::Kind::kBool; break;
      case SigmaValue::Type::kNull: v.kind = Val::Kind::kNull; break;
    }
    groups.push_back({std::move(v)});
  }

  bool all = false, negate = false, positioned = false;
  std::size_t value_mods_applied = 0;
  for (const auto& entry : mods) {
    // Named copies rather than a structured binding: the lambdas below capture `name`, which
    // C++20 allows for bindings but clang before 16 rejects.
    const auto& name = entry.first;
    const auto mod = entry.second;
    if (mod == Mod::kAll) {
      all = true;
      continue;
    }
    if (mod == Mod::kNeq) {
      negate = true;
      continue;
    }
    auto misuse = [&](const Val& v, std::string why) {
      return tl::unexpected(error("bad_modifier", "modifier " + quoted(name) + " in " + quoted(key) +
                                                      " cannot apply to " + kind_name(v.kind) +
                                                      (why.empty() ? "" : ": " + why)));
    };
    auto must_be_first = [&]() -> DetectionResult<bool> {
      if (value_mods_applied > 0)
        return tl::unexpected(error("bad_modifier", "modifier " + quoted(name) + " in " + quoted(key) +
                                                        " must come before other value modifiers"));
      return true;
    };
    if (mod == Mod::kContains || mod == Mod::kStartsWith || mod == Mod::kEndsWith) positioned = true;
    if (mod == Mod::kExists || mod == Mod::kCidr || mod == Mod::kRe) {
      if (auto r = must_be_first(); !r) return tl::unexpected(r.error());
    }
    if (mod == Mod::kExists && keyword)
      return tl::unexpected(error("bad_modifier", "'exists' must be applied to a field: " + quoted(key)));

    for (std::vector<Val>& group : groups) {
      std::vector<Val> next;
      for (Val& v : group) {
        switch (mod) {
          case Mod::kContains:
          case Mod::kStartsWith:
          case Mod::kEndsWith:
            if (v.kind == Val::Kind::kRegex) {
              // kRegex is an unanchored search already: pySigma's added `.*` change nothing.
            } else if (v.kind == Val::Kind::kFieldRef) {
              if (mod != Mod::kEndsWith) v.ref_start = true;
              if (mod != Mod::kStartsWith) v.ref_end = true;
            } else if (as_string(v)) {
              if (mod != Mod::kStartsWith && !starts_with_star(v.glob)) v.glob.insert(v.glob.begin(), star());
              if (mod != Mod::kEndsWith && !ends_with_star(v.glob)) v.glob.push_back(star());
            } else {
              return misuse(v, "");
            }
            next.push_back(std::move(v));
            break;
          case Mod::kBase64:
          case Mod::kBase64Offset: {
            if (!as_string(v)) return misuse(v, "");
            if (has_wildcard(v.glob))
              return tl::unexpected(error("bad_value", "modifier " + quoted(name) + " in " + quoted(key) +
                                                           ": cannot encode a value with wildcards " +
                                                           quoted(v.text)));
            std::string bytes = glob_literal(v.glob);
            std::vector<std::string> encoded =
                mod == Mod::kBase64 ? std::vector<std::string>{base64_encode(bytes)}
                                    : base64offset_variants(bytes);
            for (std::string& e : encoded) {
              Val out = v;
              out.glob = literal_glob(e);
              next.push_back(std::move(out));
            }
            break;
          }
          case Mod::kUtf16le:
          case Mod::kUtf16be:
          case Mod::kUtf16: {
            if (!as_string(v)) return misuse(v, "");
            auto g = encode_utf16(v.glob, mod == Mod::kUtf16be, mod == Mod::kUtf16, name);
            if (!g) return tl::unexpected(g.error());
            v.glob = std::move(*g);
            next.push_back(std::move(v));
            break;
          }
          case Mod::kWindash: {
            if (!as_string(v)) return misuse(v, "");
            auto variants = windash_glob(v.glob);
            if (!variants) return tl::unexpected(variants.error());
            for (Glob& g : *variants) {
              Val out = v;
              out.glob = std::move(g);
              next.push_back(std::move(out));
            }
            break;
          }
          case Mod::kRe:
            if (v.kind == Val::Kind::kNull || v.kind == Val::Kind::kBool) return misuse(v, "");
            v.kind = Val::Kind::kRegex;  // the value as written: no wildcard or escape parsing
            next.push_back(std::move(v));
            break;
          case Mod::kReI:
          case Mod::kReM:
          case Mod::kReS:
            if (v.kind != Val::Kind::kRegex) return misuse(v, "write it after 're'");
            if (mod == Mod::kReI) v.re_i = true;
            if (mod == Mod::kReM) v.re_m = true;
            if (mod == Mod::kReS) v.re_s = true;
            next.push_back(std::move(v));
            break;
          case Mod::kCased:
            if (v.kind == Val::Kind::kRegex) {
              // A regular expression is case-sensitive already (unless `i`).
            } else if (v.kind == Val::Kind::kFieldRef || as_string(v)) {
              v.cased = true;
            } else {
              return misuse(v, "");
            }
            next.push_back(std::move(v));
            break;
          case Mod::kExists: {
            bool b;
            const std::string t = ascii_lower(v.text);
            if (v.kind != Val::Kind::kNull && (t == "true" || t == "yes")) {
              b = true;
            } else if (v.kind != Val::Kind::kNull && (t == "false" || t == "no")) {
              b = false;
            } else {
              return tl::unexpected(error("bad_value", "'exists' needs true or false, got " +
                                                           (v.kind == Val::Kind::kNull ? std::string("null") : quoted(v.text)) +
                                                           " in " + quoted(key)));
            }
            v.kind = Val::Kind::kExists;
            v.exists = b;
            next.push_back(std::move(v));
            break;
          }
          case Mod::kCidr: {
            if (v.kind != Val::Kind::kString) return misuse(v, "");
            std::string norm, why;
            if (!parse_cidr(v.text, &norm, &why))
              return tl::unexpected(error("bad_value", "cidr in " + quoted(key) + ": " + why));
            v.kind = Val::Kind::kCidr;
            v.text = std::move(norm);
            next.push_back(std::move(v));
            break;
          }
          case Mod::kLt:
          case Mod::kLte:
          case Mod::kGt:
          case Mod::kGte: {
            double num;
            if ((v.kind != Val::Kind::kNumber && v.kind != Val::Kind::kString) ||
                !parse_number(v.text, &num))
              return tl::unexpected(error("bad_value", "modifier " + quoted(name) + " in " + quoted(key) +
                                                           " needs a number, got " +
                                                           (v.kind == Val::Kind::kNull ? std::string("null") : quoted(v.text))));
            v.kind = Val::Kind::kCompare;
            v.number = num;
            v.compare = mod == Mod::kLt    ? MatchOp::kLt
                        : mod == Mod::kLte ? MatchOp::kLte
                        : mod == Mod::kGt  ? MatchOp::kGt
                                           : MatchOp::kGte;
            next.push_back(std::move(v));
            break;
          }
          case Mod::kFieldRef: {
            if (!as_string(v)) return misuse(v, "");
            if (has_wildcard(v.glob))
              return tl::unexpected(error("bad_value", "fieldref in " + quoted(key) +
                                                           ": a field name cannot hold wildcards: " +
                                                           quoted(v.text)));
            v.text = glob_literal(v.glob);
            v.kind = Val::Kind::kFieldRef;
            next.push_back(std::move(v));
            break;
          }
          case Mod::kAll:
          case Mod::kNeq:
          case Mod::kExpand:
          case Mod::kTimePart:
            next.push_back(std::move(v));
            break;
        }
      }
      group = std::move(next);
    }
    ++value_mods_applied;
  }

  const bool keyword_search = keyword && !positioned;
  std::vector<CondNode> linked;
  for (const std::vector<Val>& group : groups) {
    std::vector<CondNode> alternatives;
    for (const Val& v : group) {
      auto n = final_node(v, field, keyword_search, table);
      if (!n) return tl::unexpected(n.error());
      alternatives.push_back(std::move(*n));
    }
    linked.push_back(link(CondNode::Kind::kOr, std::move(alternatives)));
  }
  CondNode node = link(all ? CondNode::Kind::kAnd : CondNode::Kind::kOr, std::move(linked));
  if (negate) {
    CondNode n;
    n.kind = CondNode::Kind::kNot;
    n.children.push_back(std::move(node));
    return n;
  }
  return node;
}

}  // namespace vigil::rules
