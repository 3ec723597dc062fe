#pragma once
// Sigma detection items -> predicates: value types, wildcards and escapes, value modifiers.
//
// One detection item is `field|mod1|mod2: value` or `field|mods: [v1, v2, ...]` (a keyword when
// the field is empty). build_detection_item() applies the modifiers in the order written, the
// way pySigma does (sigma/modifiers.py), and returns a condition tree whose leaves are
// predicates interned in a PredicateTable. Used by the Sigma loader and by the logsource
// mapping (whose conditions use the same selection syntax).
//
// Semantics that the Sigma specification leaves open follow pySigma, except where noted:
// - `*` any sequence, `?` one character; `\` escapes `*`, `?` and `\` only, and is a literal
//   backslash before any other character (`C:\Windows\` stays as written).
// - A value that is only `*` means "the field exists, with any value" (kExists); for a keyword it
//   matches every event (kTrue).
// - An empty value list (`field: []`) is a null test, as in pySigma (SigmaDetectionItem
//   .postprocess maps "no value" to SigmaNull).
// - Keywords without contains/startswith/endswith/re are substring searches (kContains).
// - Where pySigma raises a type error but the intent is plain, vigil accepts: string modifiers
//   on numbers and booleans use their text, `exists` takes 'true'/'false' strings, comparisons
//   take numeric strings. `re|contains` (and startswith/endswith) change nothing, because
//   kRegex is an unanchored search already.
// - `neq` (spec 2.1) negates the item; the time-part modifiers and `expand` are rejected
//   (unsupported_modifier): vigil has no placeholder values and no date parsing here.
//
// Thread-safety: free functions without shared state; a PredicateTable belongs to one caller.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "rules/sigma_rule.h"

namespace vigil::rules {

// A scalar of a detection value, with the YAML type it was written as.
struct SigmaValue {
  enum class Type : std::uint8_t { kString, kNumber, kBool, kNull };
  Type type = Type::kString;
  std::string text;  // kString: as written; kNumber: decimal text; kBool: "true"/"false"

  static SigmaValue string(std::string s) { return {Type::kString, std::move(s)}; }
  static SigmaValue number(std::string s) { return {Type::kNumber, std::move(s)}; }
  static SigmaValue boolean(bool b) { return {Type::kBool, b ? "true" : "false"}; }
  static SigmaValue null() { return {Type::kNull, ""}; }
};

// The Sigma value of a plain (unquoted, untagged) YAML scalar, YAML 1.2 core schema:
// true/false -> kBool; decimal, 0x and 0o integers -> kNumber (decimal text); floats -> kNumber
// (as written); anything else -> kString. Quoted scalars are always strings; null is the
// caller's (yaml-cpp reports it as a node type).
SigmaValue plain_scalar_value(const std::string& s);

// Why a detection item (or a condition) was rejected. `reason` is a LoadError reason code:
// unknown_modifier, unsupported_modifier, bad_modifier, bad_value, bad_regex.
struct DetectionError {
  std::string reason;
  std::string message;
};

template <typename T>
using DetectionResult = tl::expected<T, DetectionError>;

// The predicates of one rule (or one mapping variant). Identical predicates share one index.
class PredicateTable {
 public:
  std::uint32_t intern(const Predicate& p);
  const std::vector<Predicate>& predicates() const { return predicates_; }
  std::vector<Predicate> release() { return std::move(predicates_); }

 private:
  std::vector<Predicate> predicates_;
  std::map<std::string, std::uint32_t> index_;  // identity key -> index
};

// A stable text form of every field of `p`, used as its identity.
std::string predicate_key(const Predicate& p);

// Builds the condition of one detection item. `key` is "field|mod|mod..." ("" or "|mod..." for
// a keyword); `values` are its values (one for a scalar, several for a YAML list; OR-linked
// unless `all`).
DetectionResult<CondNode> build_detection_item(std::string_view key,
                                               const std::vector<SigmaValue>& values,
                                               PredicateTable& table);

// Leaf node helpers.
CondNode make_pred_node(std::uint32_t index);
CondNode make_const_node(bool value);

// ---- Building blocks, exposed for tests ----

// Base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);
// The three base64offset forms of `bytes` (offsets 0, 1, 2), trimmed of the characters that
// depend on the surrounding data exactly as pySigma's SigmaBase64OffsetModifier does.
std::vector<std::string> base64offset_variants(std::string_view bytes);
// UTF-8 text -> UTF-16 bytes. Returns false for invalid UTF-8.
bool utf8_to_utf16(std::string_view utf8, bool big_endian, std::string* out);
// pySigma's windash: every `-` or `/` that starts a word (regex \B[-/]\b) becomes each of
// - / U+2013 U+2014 U+2015; all combinations. Wildcard characters are left alone.
std::vector<std::string> windash_variants(std::string_view plain_text);
// Checks a PCRE2 pattern with the options the compiler uses (no UTF mode); returns "" if it
// compiles, else PCRE2's message with the offset.
std::string check_regex(std::string_view pattern, bool caseless, bool multiline, bool dotall);
// Validates an IPv4/IPv6 network "addr/len" (or a bare address) with no host bits set, as
// Python's ipaddress.ip_network does. Writes the normalised "addr/len" text.
bool parse_cidr(std::string_view text, std::string* normalised, std::string* error);

}  // namespace vigil::rules
