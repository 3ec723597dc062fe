#pragma once
// Decoded and normalised views of an HTTP request, for web-attack rules.
//
// Attackers hide payloads behind encodings the server (or the browser, or the SQL engine)
// undoes: URL-encoding once or twice, IIS %uXXXX, HTML entities, JavaScript \u escapes, '+' for
// space, overlong UTF-8 and full-width characters, SQL comments between keywords, runs of odd
// whitespace, NUL bytes. A rule that had to spell every variant would be unreadable and would
// still miss the next one, so the engine undoes them once, here, and the parsers emit the
// result as extra fields that rules name like any other (Sigma has no syntax for a
// per-field transformation, so a derived field name is the one way plain Sigma can ask for it):
//
//   cs-uri-norm          the request target (path and query)
//   cs-uri-stem-norm     the path
//   cs-uri-query-norm    the query string ('+' is a space here, as servers decode it)
//   cs-user-agent-norm   the User-Agent header
//   cs-referer-norm      the Referer header (a URL: '+' is a space in its query)
//
// The views are computed only when a rule names them (emit_web_views checks the selection),
// so rule sets that do not use them pay nothing. Case is kept: Sigma matching is
// case-insensitive except for `re` and `cased`, and keeping the bytes lets a view that needs
// no decoding be the original value itself (no copy, no second scan); regexes over these
// fields should use (?i).
//
// Thread-safety: pure functions, no state.
#include <string>
#include <string_view>

#include "core/event.h"

namespace vigil::parse {

class FieldSelection;

enum class WebPart {
  kPath,    // '+' is a literal plus
  kQuery,   // '+' is a space (application/x-www-form-urlencoded), in the first round only
  kHeader,  // as kPath
  kUrl,     // a whole URL (Referer): '+' is a space after the first '?', as in kQuery
};

// Field names of the views (see above).
inline constexpr std::string_view kWebUriNorm = "cs-uri-norm";
inline constexpr std::string_view kWebUriStemNorm = "cs-uri-stem-norm";
inline constexpr std::string_view kWebUriQueryNorm = "cs-uri-query-norm";
inline constexpr std::string_view kWebUserAgentNorm = "cs-user-agent-norm";
inline constexpr std::string_view kWebRefererNorm = "cs-referer-norm";

// Whether `name` is one of the views above.
inline bool is_web_view_name(std::string_view name) {
  return name == kWebUriNorm || name == kWebUriStemNorm || name == kWebUriQueryNorm ||
         name == kWebUserAgentNorm || name == kWebRefererNorm;
}
// Whether records of `format` carry the views (their parser calls emit_web_views).
inline bool format_has_web_views(LogFormat format) {
  return format == LogFormat::kAccessLog || format == LogFormat::kW3c;
}

// Normalises `in` into `out` (overwritten). Steps, in order:
//  1. up to kMaxWebDecodeRounds rounds, until a round changes nothing: %XX and %uXXXX (to
//     UTF-8), HTML character references (&#x3c; &#60; with or without ';', and the named ones
//     attackers use: &lt; &gt; &quot; &apos; &amp; &sol; &colon; &lpar; &rpar; ...), and
//     JavaScript escapes \uXXXX \u{X..} \xHH; '+' becomes a space in the first round of kQuery;
//  2. overlong UTF-8 encodings of ASCII (%c0%ae) and full-width forms (U+FF01..FF5E) become
//     the ASCII character, NUL bytes are dropped;
//  3. SQL comments: a closed `/*...*/` and MySQL's executable `/*!50000` opener and its `*/`
//     become a space (the text inside an executable comment is kept: MySQL runs it; an
//     unclosed `/*` is kept, since XPath and glob payloads hold it too);
//  4. every run of whitespace (space, \t \n \v \f \r, U+00A0) becomes one space.
// Returns false, leaving `out` untouched, when the value needs none of this (the common case,
// decided by one pass over the bytes): the caller then uses `in` itself.
// The output is never longer than the input.
bool normalize_web_value(std::string_view in, WebPart part, std::string& out);
inline constexpr int kMaxWebDecodeRounds = 4;

// The request parts a parser has found ("" = absent); views into the record or its arena.
struct WebRequestParts {
  bool has_target = false;  // a request line was found (uri_stem may still be empty)
  std::string_view uri_stem;
  std::string_view uri_query;
  bool has_query = false;  // the target had a '?' (the query may still be empty)
  std::string_view user_agent;
  std::string_view referer;
};

// Adds to `fields` each view above whose name `wanted` selects (nullptr: all of them), for the
// parts that are present. Values that need no normalisation are the parts themselves (views
// into the record); the others live in fields.arena(). Called by every parser of web logs
// (combined access log, W3C/IIS) so that one set of rules serves them all.
void emit_web_views(FieldView& fields, const WebRequestParts& parts, const FieldSelection* wanted);

}  // namespace vigil::parse
