#include "core/parse/web_normalize.h"

#include "core/utf8.h"

#include <cstddef>
#include <cstdint>
#include <array>
#include <cctype>
#include <cstring>

#include "core/parse/parser.h"

namespace vigil::parse {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Value of exactly n hex digits at s[p], or -1.
long hex_run(std::string_view s, std::size_t p, std::size_t n) {
  if (p + n > s.size()) return -1;
  long v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int h = hex_value(s[p + i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Writes code point cp as UTF-8 at out; returns the bytes written. Code points a browser
// would not produce (surrogates, > U+10FFFF) become '?': the payload around them still reads.
std::size_t put_utf8(std::uint32_t cp, char* out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    out[0] = '?';
    return 1;
  }
  return encode_utf8(cp, out);
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Named HTML character references that turn into characters which matter to an attack (or to
// reading one). Matched case-insensitively: browsers accept &LT; and &QUOT; too.
struct NamedEntity {
  const char* name;
  char value;
};
constexpr NamedEntity kEntities[] = {
    {"lt", '<'},      {"gt", '>'},      {"quot", '"'},   {"apos", '\''},  {"amp", '&'},
    {"nbsp", ' '},    {"tab", '\t'},    {"newline", '\n'}, {"colon", ':'}, {"lpar", '('},
    {"rpar", ')'},    {"sol", '/'},     {"bsol", '\\'},  {"semi", ';'},   {"comma", ','},
    {"period", '.'},  {"excl", '!'},    {"equals", '='}, {"grave", '`'},  {"quest", '?'},
    {"lsqb", '['},    {"rsqb", ']'},    {"lcub", '{'},   {"rcub", '}'},   {"num", '#'},
    {"dollar", '$'},  {"percnt", '%'},  {"plus", '+'},   {"ast", '*'},    {"verbar", '|'},
    {"vert", '|'},    {"lowbar", '_'},  {"hyphen", '-'}, {"circ", '^'},   {"commat", '@'},
};

bool name_equals_ci(std::string_view s, const char* name) {
  const std::size_t n = std::strlen(name);
  if (s.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != name[i]) return false;
  }
  return true;
}

// A named reference at s[p] ('&'): its character and length (with ';'), or 0.
std::size_t named_entity(std::string_view s, std::size_t p, char* value) {
  std::size_t e = p + 1;
  while (e < s.size() && e - p <= 8 && is_alnum(s[e])) ++e;
  if (e >= s.size() || s[e] != ';' || e == p + 1) return 0;
  const std::string_view name = s.substr(p + 1, e - p - 1);
  for (const NamedEntity& ent : kEntities)
    if (name_equals_ci(name, ent.name)) {
      *value = ent.value;
      return e + 1 - p;
    }
  return 0;
}

// A numeric reference at s[p] ('&'): &#DDD or &#xHHH, ';' optional as browsers allow.
// Returns its length and sets *cp, or 0.
std::size_t numeric_entity(std::string_view s, std::size_t p, std::uint32_t* cp) {
  if (p + 2 >= s.size() || s[p + 1] != '#') return 0;
  std::size_t e = p + 2;
  std::uint64_t v = 0;
  std::size_t digits = 0;
  if (s[e] == 'x' || s[e] == 'X') {
    ++e;
    while (e < s.size() && hex_value(s[e]) >= 0 && digits < 10) {
      v = v * 16 + static_cast<unsigned>(hex_value(s[e]));
      ++e;
      ++digits;
    }
  } else {
    while (e < s.size() && s[e] >= '0' && s[e] <= '9' && digits < 10) {
      v = v * 10 + static_cast<unsigned>(s[e] - '0');
      ++e;
      ++digits;
    }
  }
  if (digits == 0) return 0;
  if (e < s.size() && s[e] == ';') ++e;
  *cp = v > 0x10FFFF ? 0xFFFD : static_cast<std::uint32_t>(v);
  return e - p;
}

// One decoding round of `in` into `out` (room for in.size() bytes; may alias `in` exactly, as
// the output never overtakes the input). Returns the output length; *changed when any
// sequence was decoded.
// '+' is a space from in[plus_from] on (npos: nowhere).
std::size_t decode_round(std::string_view in, char* out, std::size_t plus_from, bool* changed) {
  std::size_t o = 0;
  const std::size_t n = in.size();
  char buf[4];
  for (std::size_t i = 0; i < n;) {
    const char c = in[i];
    if (c == '%') {
      if (i + 1 < n && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
        const long v = hex_run(in, i + 2, 4);
        if (v >= 0) {
          const std::size_t w = put_utf8(static_cast<std::uint32_t>(v), buf);
          std::memcpy(out + o, buf, w);
          o += w;
          i += 6;
          *changed = true;
          continue;
        }
      }
      const long v = hex_run(in, i + 1, 2);
      if (v >= 0) {
        out[o++] = static_cast<char>(v);
        i += 3;
        *changed = true;
        continue;
      }
    } else if (c == '+' && i >= plus_from) {
      out[o++] = ' ';
      ++i;
      *changed = true;
      continue;
    } else if (c == '&') {
      std::uint32_t cp = 0;
      char value = 0;
      if (std::size_t len = numeric_entity(in, i, &cp)) {
        const std::size_t w = put_utf8(cp, buf);
        if (w <= len) {
          std::memcpy(out + o, buf, w);
          o += w;
          i += len;
          *changed = true;
          continue;
        }
      } else if (std::size_t named = named_entity(in, i, &value)) {
        out[o++] = value;
        i += named;
        *changed = true;
        continue;
      }
    } else if (c == '\\' && i + 1 < n) {
      const char k = in[i + 1];
      long v = -1;
      std::size_t len = 0;
      if (k == 'u' || k == 'U') {
        if (i + 2 < n && in[i + 2] == '{') {
          std::size_t e = i + 3;
          long acc = 0;
          while (e < n && hex_value(in[e]) >= 0 && e - i < 11) acc = acc * 16 + hex_value(in[e++]);
          if (e < n && in[e] == '}' && e > i + 3) {
            v = acc;
            len = e + 1 - i;
          }
        } else {
          v = hex_run(in, i + 2, 4);
          len = 6;
        }
      } else if (k == 'x' || k == 'X') {
        v = hex_run(in, i + 2, 2);
        len = 4;
      }
      if (v >= 0) {
        const std::size_t w = put_utf8(static_cast<std::uint32_t>(v), buf);
        if (w <= len) {
          std::memcpy(out + o, buf, w);
          o += w;
          i += len;
          *changed = true;
          continue;
        }
      }
    }
    out[o++] = c;
    ++i;
  }
  return o;
}

bool is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Steps 2 to 4 of normalize_web_value, in place over s[0..n); returns the new length.
std::size_t clean_up(char* s, std::size_t n) {
  std::size_t o = 0;
  bool space = false;  // the last byte written is a space from a collapsed run or a comment
  auto put = [&](char c) {
    if (is_ws(static_cast<unsigned char>(c))) {
      if (!space) s[o++] = ' ';
      space = true;
    } else {
      s[o++] = c;
      space = false;
    }
  };
  for (std::size_t i = 0; i < n;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      if (i + 2 < n && s[i + 2] == '!') {  // MySQL executable comment: keep its text
        i += 3;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
      } else {
        std::size_t e = i + 2;
        while (e + 1 < n && !(s[e] == '*' && s[e + 1] == '/')) ++e;
        if (e + 1 >= n) {
          // Unclosed: kept as written. SQL would drop the rest, but "/*" also begins XPath
          // and glob payloads (count(/*), /???/*) whose text the rules need.
          put(static_cast<char>(c));
          ++i;
          continue;
        }
        i = e + 2;
      }
      put(' ');
      continue;
    }
    if (c == '*' && i + 1 < n && s[i + 1] == '/') {  // the close of a /*! comment
      i += 2;
      put(' ');
      continue;
    }
    // Overlong 2-byte UTF-8 for ASCII (C0/C1 lead), e.g. %c0%ae = '.'.
    if ((c == 0xC0 || c == 0xC1) && i + 1 < n && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      put(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
      i += 2;
      continue;
    }
    if (i + 2 < n) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      const auto c2 = static_cast<unsigned char>(s[i + 2]);
      // Overlong 3-byte UTF-8 for ASCII: E0 80..81 xx.
      if (c == 0xE0 && (c1 == 0x80 || c1 == 0x81) && (c2 & 0xC0) == 0x80) {
        put(static_cast<char>(((c1 & 0x3F) << 6) | (c2 & 0x3F)));
        i += 3;
        continue;
      }
      // Full-width forms U+FF01..U+FF5E (EF BC 81 .. EF BD 9E) = ASCII 0x21..0x7E: IIS and
      // some frameworks fold them ("best fit"), so ．．／ walks up a directory.
      if (c == 0xEF && (c1 == 0xBC || c1 == 0xBD) && (c2 & 0xC0) == 0x80) {
        const unsigned cp = ((c1 & 0x3F) << 6 | (c2 & 0x3F)) + 0xF000;
        if (cp >= 0xFF01 && cp <= 0xFF5E) {
          put(static_cast<char>(cp - 0xFF01 + 0x21));
          i += 3;
          continue;
        }
      }
    }
    if (c == 0xC2 && i + 1 < n && static_cast<unsigned char>(s[i + 1]) == 0xA0) {  // U+00A0
      put(' ');
      i += 2;
      continue;
    }
    if (c == 0xA0) {  // a lone NBSP byte (from %a0): MySQL and browsers take it as a space
      put(' ');
      ++i;
      continue;
    }
    put(static_cast<char>(c));
    ++i;
  }
  return o;
}

// Whether normalize_web_value could change `in`: one pass, no writes. Conservative only in
// the cheap direction (it may say yes for a value that ends up unchanged).
// The bytes may_change must look at; every other byte is skipped by one table load (the
// switch below runs only on these, a few per value in benign traffic).
constexpr std::array<bool, 256> kMayChangeBytes = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : {'%', '\0', '+', '&', '\\', '/', '*', ' '}) t[c] = true;
  for (unsigned char c : {0xA0, 0xC0, 0xC1, 0xE0, 0xEF}) t[c] = true;
  for (unsigned char c = '\t'; c <= '\r'; ++c) t[c] = true;
  return t;
}();

bool may_change(std::string_view in, std::size_t plus_from) {
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (!kMayChangeBytes[c]) continue;
    switch (c) {
      case '%':
      case 0:
        return true;
      case '+':
        if (i >= plus_from) return true;
        break;
      case '&': {
        if (i + 1 < n && in[i + 1] == '#') return true;
        char v = 0;
        if (named_entity(in, i, &v) != 0) return true;
        break;
      }
      case '\\':
        if (i + 1 < n && (in[i + 1] == 'u' || in[i + 1] == 'U' || in[i + 1] == 'x' || in[i + 1] == 'X'))
          return true;
        break;
      case '/':
        if (i + 1 < n && in[i + 1] == '*') return true;
        break;
      case '*':
        if (i + 1 < n && in[i + 1] == '/') return true;
        break;
      case ' ':
        if (i + 1 < n && is_ws(static_cast<unsigned char>(in[i + 1]))) return true;
        break;
      case 0xA0:
      case 0xC0:
      case 0xC1:
      case 0xE0:
      case 0xEF:
        return true;
      default:
        if (c >= '\t' && c <= '\r') return true;
        break;
    }
  }
  return false;
}

}  // namespace

bool normalize_web_value(std::string_view in, WebPart part, std::string& out) {
  std::size_t plus_from = std::string_view::npos;
  if (part == WebPart::kQuery) plus_from = 0;
  if (part == WebPart::kUrl) plus_from = in.find('?');
  if (!may_change(in, plus_from)) return false;
  out.resize(in.size());
  bool changed = false;
  std::size_t n = decode_round(in, out.data(), plus_from, &changed);
  for (int round = 1; changed && round < kMaxWebDecodeRounds; ++round) {
    changed = false;
    n = decode_round(std::string_view(out.data(), n), out.data(), std::string_view::npos, &changed);
  }
  n = clean_up(out.data(), n);
  out.resize(n);
  if (out == in) return false;
  return true;
}

namespace {

// `v` normalised into the arena, or `v` itself when nothing changes.
std::string_view normalized_view(std::string_view v, WebPart part, StringArena& arena, std::string& tmp) {
  if (!normalize_web_value(v, part, tmp)) return v;
  return arena.copy(tmp);
}

bool wants(const FieldSelection* wanted, std::string_view name) {
  return wanted == nullptr || wanted->find(name) >= 0;
}

}  // namespace

void emit_web_views(FieldView& fields, const WebRequestParts& parts, const FieldSelection* wanted) {
  const bool uri = parts.has_target && wants(wanted, kWebUriNorm);
  const bool stem = parts.has_target && wants(wanted, kWebUriStemNorm);
  const bool query = parts.has_target && parts.has_query && wants(wanted, kWebUriQueryNorm);
  const bool agent = wants(wanted, kWebUserAgentNorm) && !parts.user_agent.empty();
  const bool referer = wants(wanted, kWebRefererNorm) && !parts.referer.empty();
  if (!(uri || stem || query || agent || referer)) return;
  // One scratch per thread: parsers run on worker threads, and this keeps the per-record path
  // free of allocations once the buffer has grown to the longest value seen.
  thread_local std::string tmp;
  StringArena& arena = fields.arena();
  if (uri || stem || query) {
    const std::string_view s = normalized_view(parts.uri_stem, WebPart::kPath, arena, tmp);
    const std::string_view q =
        parts.has_query ? normalized_view(parts.uri_query, WebPart::kQuery, arena, tmp) : std::string_view{};
    if (uri) {
      // The record's own "stem?query" bytes can serve only when both are views into it, adjacent
      // (a W3C record has them in two columns, and may have a query with no stem at all).
      const bool adjacent = !parts.has_query || (parts.uri_stem.data() != nullptr &&
                                                 parts.uri_query.data() == parts.uri_stem.data() + parts.uri_stem.size() + 1);
      const bool same = s.data() == parts.uri_stem.data() && q.data() == parts.uri_query.data() && adjacent;
      if (same) {  // the record's own target, unchanged
        fields.add(kWebUriNorm, std::string_view(parts.uri_stem.data(),
                                                 parts.has_query ? parts.uri_stem.size() + 1 + parts.uri_query.size()
                                                                 : parts.uri_stem.size()));
      } else {
        const std::size_t len = s.size() + (parts.has_query ? 1 + q.size() : 0);
        char* p = arena.allocate(len);
        if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an absent stem has no data at all
        if (parts.has_query) {
          p[s.size()] = '?';
          if (!q.empty()) std::memcpy(p + s.size() + 1, q.data(), q.size());
        }
        fields.add(kWebUriNorm, std::string_view(p, len));
      }
    }
    if (stem) fields.add(kWebUriStemNorm, s);
    if (query && parts.has_query) fields.add(kWebUriQueryNorm, q);
  }
  if (agent) fields.add(kWebUserAgentNorm, normalized_view(parts.user_agent, WebPart::kHeader, arena, tmp));
  if (referer) fields.add(kWebRefererNorm, normalized_view(parts.referer, WebPart::kUrl, arena, tmp));
}

}  // namespace vigil::parse
