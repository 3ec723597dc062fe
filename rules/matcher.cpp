#include "rules/matcher.h"

#include <hs/hs.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <simdjson.h>

#include <algorithm>
#include <deque>
#include <span>
#include <unordered_map>
#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/ascii.h"
#include "core/cpu.h"
#include "core/json_text.h"
#include "core/parse/web_normalize.h"
#include "core/record_reader.h"
#include "rules/compiled_rules.h"
#include "rules/scan_memo.h"

namespace vigil::rules {

namespace {


// `needle` is already lower-cased when !cased.
bool equals(std::string_view hay, std::string_view needle, bool cased) {
  if (hay.size() != needle.size()) return false;
  if (cased) return hay == needle;
  for (std::size_t i = 0; i < hay.size(); ++i)
    if (ascii_lower(hay[i]) != needle[i]) return false;
  return true;
}

bool starts_with(std::string_view hay, std::string_view needle, bool cased) {
  return hay.size() >= needle.size() && equals(hay.substr(0, needle.size()), needle, cased);
}

bool ends_with(std::string_view hay, std::string_view needle, bool cased) {
  return hay.size() >= needle.size() &&
         equals(hay.substr(hay.size() - needle.size()), needle, cased);
}

// Case-insensitive (needle lower-cased) or exact substring search from `from`: the first
// position, or npos. SSE2: 16 candidate positions at a time, where both the needle's first and
// last bytes match (either case), then a full comparison there; values are read only within
// their bounds.
std::size_t find_from(std::string_view hay, std::string_view needle, bool cased, std::size_t from) {
  constexpr std::size_t npos = std::string_view::npos;
  if (needle.empty()) return from <= hay.size() ? from : npos;
  if (hay.size() < needle.size() || from > hay.size() - needle.size()) return npos;
  if (cased) return hay.find(needle, from);
  const std::size_t m = needle.size();
  const std::size_t last = hay.size() - m;  // last possible start
  auto upper = [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; };
  auto matches_at = [&](std::size_t i) {
    for (std::size_t k = 1; k + 1 < m; ++k)
      if (ascii_lower(hay[i + k]) != needle[k]) return false;
    return true;
  };
  const char f_lo = needle[0], f_up = upper(needle[0]);
  const char l_lo = needle[m - 1], l_up = upper(needle[m - 1]);
  std::size_t i = from;
#if defined(__SSE2__)
  const __m128i first_lo = _mm_set1_epi8(f_lo), first_up = _mm_set1_epi8(f_up);
  const __m128i last_lo = _mm_set1_epi8(l_lo), last_up = _mm_set1_epi8(l_up);
  for (; i + 16 <= last + 1; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hay.data() + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hay.data() + i + m - 1));
    const __m128i eq = _mm_and_si128(
        _mm_or_si128(_mm_cmpeq_epi8(a, first_lo), _mm_cmpeq_epi8(a, first_up)),
        _mm_or_si128(_mm_cmpeq_epi8(b, last_lo), _mm_cmpeq_epi8(b, last_up)));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(eq));
    while (mask != 0) {
      const std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(mask));
      if (matches_at(at)) return at;
      mask &= mask - 1;
    }
  }
#endif
  for (; i <= last; ++i) {
    const char a = hay[i], b = hay[i + m - 1];
    if ((a == f_lo || a == f_up) && (b == l_lo || b == l_up) && matches_at(i)) return i;
  }
  return npos;
}

bool contains(std::string_view hay, std::string_view needle, bool cased) {
  return find_from(hay, needle, cased, 0) != std::string_view::npos;
}

// ---- string tests on JSON values as written -----------------------------------------------
// A value the selective parse kept as written (Field::escaped) whose escapes are all the short
// canonical ones (\\ \" \b \f \n \r \t: what append_json_escaped writes) is the canonical
// escaped form E(v) of its decoded text v, and escaping is per character: v equals, starts
// with, ends with or contains a pattern P exactly when E(v) does so with E(P) at a position
// where a character's escape begins (after an even run of backslashes). Testing that saves
// decoding the value (a 5 KB PowerShell ContextInfo, say) for each rule that reads it.

// Whether position i of an escaped value begins a character's escape (or a plain character).
bool escape_aligned(std::string_view w, std::size_t i) {
  std::size_t run = 0;
  while (run < i && w[i - 1 - run] == '\\') ++run;
  return (run & 1) == 0;
}

// The string test of `op` between a decoded value and `needle` (lower-cased unless cased),
// made on the value's canonical escaped form `w` with the needle's, `escaped_needle`.
bool escaped_string_test(MatchOp op, std::string_view w, std::string_view escaped_needle, bool cased) {
  switch (op) {
    case MatchOp::kEquals: return equals(w, escaped_needle, cased);
    case MatchOp::kStartsWith: return starts_with(w, escaped_needle, cased);
    case MatchOp::kEndsWith:
      return ends_with(w, escaped_needle, cased) && escape_aligned(w, w.size() - escaped_needle.size());
    case MatchOp::kContains:
      for (std::size_t at = find_from(w, escaped_needle, cased, 0); at != std::string_view::npos;
           at = find_from(w, escaped_needle, cased, at + 1))
        if (escape_aligned(w, at)) return true;
      return false;
    default: return false;
  }
}

bool parse_number(std::string_view s, double* out) {
  if (s.empty() || s.size() > 64) return false;
  char buf[72];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  double v = std::strtod(buf, &end);
  if (end == buf) return false;
  while (*end == ' ') ++end;
  if (*end != '\0') return false;
  *out = v;
  return true;
}

bool in_cidr(std::string_view s, const CompiledPredicate& p) {
  IpAddress address;
  return parse_ip_address(s, &address) && network_contains(p.cidr, address);
}

}  // namespace

struct Matcher::State {
  hs_scratch_t* scratch = nullptr;
  pcre2_match_data* match_data = nullptr;
  std::uint32_t gen = 0;
  std::vector<std::uint32_t> literal_gen;
  std::vector<std::uint32_t> route_literal_gen;
  std::vector<std::uint32_t> rule_gen;
  // Per predicate, its value in the current event: 2 * gen + value when computed this event
  // (one word, so that asking costs one cache line, not two).
  std::vector<std::uint64_t> pred_memo;
  std::vector<std::uint32_t> regex_db_gen;
  std::vector<std::uint32_t> regex_hit_gen;  // per predicate
  std::vector<std::uint32_t> candidates;
  // Field index of the current event: slot_gen[id] == gen when field id is present, its first
  // position in slot_first[id], and slot_multi[id] when the name occurs more than once.
  std::vector<std::uint32_t> slot_gen;  // == slot_epoch when the field id is present
  std::uint32_t slot_epoch = 0;
  // By field position: whether a value kept as written has only short escapes (Evaluator::
  // testable_as_written), valid when short_escapes_epoch == slot_epoch.
  std::vector<std::uint32_t> short_escapes_epoch;
  std::vector<std::uint8_t> short_escapes_ok;
  std::vector<std::uint32_t> slot_first;
  std::vector<std::uint8_t> slot_multi;
  std::vector<int> ids;  // parse_selected's field ids
  bool full = false;     // every field parsed (not only the selection)
  bool bad_escape = false;  // a kept-escaped value turned out to hold an escape JSON lacks
  // Windows event XML is matched as the evtx_dump JSON it converts to (see match()).
  parse::WinXmlConverter xml;
  std::string xml_json;
  bool parsed = false;
  bool parse_ok = true;
  std::string decoded;
  // One route's field values laid out for its field database (JsonRoute), and where the
  // values of each of its fields begin and end in it (by position in JsonRoute::fields).
  std::string route_values;
  std::string route_canonical;  // the same in canonical form, when that differs
  std::vector<std::uint32_t> segment_begin, segment_end;
  // JSON routes by the values of the fields route conditions read (CompiledRules::route_fields).
  std::string route_key;
  // The account of a shortcut (a memo, a prefilter) that pauses itself for `Pause` uses when
  // fewer than `MinUseful` of a window of `Window` uses paid off: then it only adds its own
  // cost to the work it was meant to save.
  template <std::uint32_t Window, std::uint32_t MinUseful, std::uint32_t Pause>
  struct UseAccount {
    std::uint32_t uses = 0, useful = 0;  // in the current window
    std::uint32_t paused = 0;            // uses left before the shortcut is tried again
    // True while paused (counting one paused use).
    bool skip() {
      if (paused == 0) return false;
      --paused;
      return true;
    }
    void count(bool was_useful) {
      ++uses;
      if (was_useful) ++useful;
      if (uses == Window) {
        if (useful < MinUseful) paused = Pause;
        uses = useful = 0;
      }
    }
  };
  // A keyword prefilter is useful when it rules a record out: paused when it lets more than
  // half of 1,024 records through.
  using FilterUse = UseAccount<1024, 512, 65536>;
  // A memo is useful when it finds the scan: paused when fewer than 1 in 4 of 256 lookups do.
  using MemoUse = UseAccount<256, 64, 16384>;
  struct RouteSet {
    std::vector<std::uint32_t> routes;
    std::vector<std::uint32_t> always;  // the routes' uncovered rules whose route gate holds
    // The keyword database to scan the raw record with: the one route's, or all routes'
    // together when several have keywords (CompiledRules::all_keywords_db); or none.
    const hs_database* keyword_db = nullptr;
    // Its prefilter (JsonRoute::keyword_prefilter, or the KeywordUnion of the routes) and the
    // account of its use; nullptr when there is none.
    const KeywordPrefilter* keyword_prefilter = nullptr;
    FilterUse* filter_use = nullptr;
    // Route gates (CompiledRule::route_gate) of the routes' uncovered rules and of candidate
    // rules, settled the first time each is asked for these route values: kGateUnknown,
    // kGateOpen or kGateClosed per rule (empty until the first gated rule). A rule whose
    // literal fires on every Security event but which needs EventID 1102 is dropped, not
    // evaluated.
    std::vector<std::uint8_t> gates;
  };
  static constexpr std::uint8_t kGateUnknown = 0, kGateOpen = 1, kGateClosed = 2;
  std::unordered_map<std::string, RouteSet> route_cache;
  // The entry the previous JSON event used: consecutive events often have the same route
  // values (63% of the OTRF events share channel, event id and provider with the one before),
  // and a comparison with its key saves the hash and the table probe. Node pointers stay
  // valid until route_cache is cleared, which resets this.
  std::unordered_map<std::string, RouteSet>::value_type* last_route = nullptr;
  std::vector<LiteralScan>* scan_sink = nullptr;

  // Route layouts answered from memory (ScanMemo): layouts are numbered across routes
  // (layout_base[route] + position), and each has its own account of how often its bytes
  // repeat, so that one whose values rarely do (a PowerShell ScriptBlockText) is simply scanned
  // instead of filling the memo.
  ScanMemo memo{kMemoEntries, kMemoKeyBytes};
  std::vector<std::uint32_t> layout_base;
  std::vector<MemoUse> memo_use;
  // Regex database scans answered from memory, per database (CompiledRules::regex_dbs index),
  // keyed by the value as written or decoded (Evaluator::scan_regex_db).
  ScanMemo regex_memo{kRegexMemoEntries, kRegexMemoKeyBytes};
  std::vector<MemoUse> regex_memo_use;
  std::vector<FilterUse> filter_use;  // per route
  // The prefilter of each combination of keyword routes met so far (RouteSet), over the union
  // of their patterns. At most kMaxKeywordUnions: more combinations than that go unfiltered.
  struct KeywordUnion {
    std::vector<std::uint32_t> routes;
    KeywordPrefilter filter;
    FilterUse use;
  };
  std::deque<KeywordUnion> keyword_unions;  // a deque: route sets point into it
  static constexpr std::size_t kMaxKeywordUnions = 64;
  // The KeywordUnion of `routes` (ascending route indexes), made on first use; nullptr past
  // the bound.
  KeywordUnion* keyword_union(const std::vector<std::uint32_t>& routes) {
    for (KeywordUnion& u : keyword_unions)
      if (u.routes == routes) return &u;
    if (keyword_unions.size() >= kMaxKeywordUnions) return nullptr;
    std::vector<KeywordPrefilter::Pattern> patterns;
    for (std::uint32_t ri : routes) {
      const std::vector<KeywordPrefilter::Pattern>& own = rules->json_routes[ri].keyword_patterns;
      patterns.insert(patterns.end(), own.begin(), own.end());
    }
    keyword_unions.push_back(KeywordUnion{routes, KeywordPrefilter::build(patterns), {}});
    return &keyword_unions.back();
  }
  bool recording = false;                  // on_route_literal also appends to memo_hits
  std::vector<std::uint32_t> memo_hits;
  static constexpr std::size_t kMemoEntries = 32768;       // per generation (two are kept)
  static constexpr std::size_t kMemoKeyBytes = 8u << 20;   // per generation
  static constexpr std::size_t kRegexMemoEntries = 4096;
  static constexpr std::size_t kRegexMemoKeyBytes = 4u << 20;

  // The scan `scan` would make of `key` (namespace `ns` of `memo`), answered from the memo when
  // it was made before: accept(id) for each hit remembered. Otherwise scan() runs, reporting its
  // hits into memo_hits (`recording`), and they are remembered. While `use` is paused, scan()
  // runs and nothing is remembered. Returns whether the memo answered.
  template <typename Scan, typename Accept>
  bool remembered_scan(ScanMemo& memo, MemoUse& use, std::uint32_t ns, std::string_view key, Scan&& scan,
                       Accept&& accept) {
    if (use.skip()) {
      scan();
      return false;
    }
    std::span<const std::uint32_t> hits;
    bool found = memo.find_recent(ns, key, &hits);
    std::uint64_t h = 0;
    if (!found) {
      h = ScanMemo::hash(key);
      found = memo.find(ns, key, h, &hits);
    }
    use.count(found);
    if (found) {
      for (std::uint32_t id : hits) accept(id);
      return true;
    }
    recording = true;
    memo_hits.clear();
    scan();
    recording = false;
    std::sort(memo_hits.begin(), memo_hits.end());
    memo_hits.erase(std::unique(memo_hits.begin(), memo_hits.end()), memo_hits.end());
    memo.insert(ns, key, h, memo_hits);
    return false;
  }

  // Route literal `id` was found in its own field's values: it and the route's rules gated on
  // it count for this event.
  void accept_route_literal(std::uint32_t id) {
    route_literal_gen[id] = gen;
    const CompiledRules::RouteLiteral& rl = rules->route_literals[id];
    literal_gen[rl.literal] = gen;
    for (std::uint32_t i = rl.rules_begin; i < rl.rules_end; ++i) add_candidate(rules->route_literal_rules[i]);
  }

  // Rule r becomes a candidate of the current event (once).
  void add_candidate(std::uint32_t r) {
    if (rule_gen[r] == gen) return;
    rule_gen[r] = gen;
    candidates.push_back(r);
  }
  // Whether the current event has a field with id `id` (its first at slot_first[id]).
  bool present(std::uint32_t id) const { return id != kNoField && slot_gen[id] == slot_epoch; }
  // Calls fn(i) with the position of every field of the current event whose id is `id`, first
  // to last, until it returns true.
  template <typename Fn>
  bool each_field(const FieldView& fields, std::uint32_t id, Fn&& fn) const {
    if (!present(id)) return false;
    if (fn(std::size_t{slot_first[id]})) return true;
    if (!slot_multi[id]) return false;
    // The name only now: reading it for every field would cost a cache miss each.
    const std::string_view name = rules->field_names[id];
    const std::span<const Field> all = fields.fields();
    for (std::size_t i = slot_first[id] + 1; i < all.size(); ++i)
      if (all[i].name == name && fn(i)) return true;
    return false;
  }

  // Scan context.
  const CompiledRules* rules = nullptr;
  const FieldRegexDatabase* scanning_db = nullptr;

  ~State() {
    if (scratch) hs_free_scratch(scratch);
    if (match_data) pcre2_match_data_free(match_data);
  }
};

namespace {

int on_literal(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  auto* st = static_cast<Matcher::State*>(ctx);
  const CompiledRules& cr = *st->rules;
  std::uint32_t lit = id;
  if (st->literal_gen[lit] == st->gen) return 0;
  st->literal_gen[lit] = st->gen;
  for (std::uint32_t i = cr.literal_rules_offset[lit]; i < cr.literal_rules_offset[lit + 1]; ++i)
    st->add_candidate(cr.literal_rules[i]);
  return 0;
}

// A hit in a route's field database: when it ends inside the values of its literal's field
// (not merely in another field's), the route's rules gated on that literal become candidates.
int on_route_literal(unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
  auto* st = static_cast<Matcher::State*>(ctx);
  const CompiledRules& cr = *st->rules;
  if (st->route_literal_gen[id] == st->gen) return 0;
  const std::uint32_t slot = cr.route_literals[id].slot;
  // The match's last byte (to - 1) must lie in [begin, end) of its field's values.
  if (to <= st->segment_begin[slot] || to > st->segment_end[slot]) return 0;
  st->accept_route_literal(id);
  if (st->recording) st->memo_hits.push_back(id);
  return 0;
}

// Every literal-prefilter scan goes through here (so that benchmarks can replay them).
void scan_literals(Matcher::State& st, const hs_database_t* db, std::string_view bytes,
                   match_event_handler on_match, bool raw = false) {
  if (st.scan_sink) st.scan_sink->push_back(raw ? LiteralScan{db, bytes, {}} : LiteralScan{db, {}, std::string(bytes)});
  hs_scan(db, bytes.data(), static_cast<unsigned>(bytes.size()), 0, st.scratch, on_match, &st);
}

int on_regex(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  auto* st = static_cast<Matcher::State*>(ctx);
  const std::uint32_t pred = st->scanning_db->slot_to_pred[id];
  // Recorded even when an earlier value of the field already set it: the memo entry is this
  // value's own answer.
  if (st->recording && (st->memo_hits.empty() || st->memo_hits.back() != pred)) st->memo_hits.push_back(pred);
  st->regex_hit_gen[pred] = st->gen;
  return 0;
}

}  // namespace

void Matcher::record_literal_scans(std::vector<LiteralScan>* sink) { state_->scan_sink = sink; }

Matcher::Matcher(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)), state_(std::make_unique<State>()) {}
Matcher::~Matcher() = default;

Result<std::unique_ptr<Matcher>> Matcher::create(std::shared_ptr<const RuleSet> rules) {
  std::unique_ptr<Matcher> m(new Matcher(std::move(rules)));
  const CompiledRules& cr = m->rules_->compiled();
  State& st = *m->state_;
  st.rules = &cr;
  if (cr.text_db && hs_alloc_scratch(cr.text_db, &st.scratch) != HS_SUCCESS)
    return Error(Status::Internal("hs_alloc_scratch failed for the text literal database"));
  if (cr.views_db && hs_alloc_scratch(cr.views_db, &st.scratch) != HS_SUCCESS)
    return Error(Status::Internal("hs_alloc_scratch failed for the web view literal database"));
  for (const JsonRoute& route : cr.json_routes) {
    st.layout_base.push_back(static_cast<std::uint32_t>(st.memo_use.size()));
    st.memo_use.resize(st.memo_use.size() + route.layouts.size());
    if (route.keyword_db && hs_alloc_scratch(route.keyword_db, &st.scratch) != HS_SUCCESS)
      return Error(Status::Internal("hs_alloc_scratch failed for a keyword literal database"));
    for (const JsonRoute::Layout& layout : route.layouts)
      if (hs_alloc_scratch(layout.db, &st.scratch) != HS_SUCCESS)
        return Error(Status::Internal("hs_alloc_scratch failed for a route's field literal database"));
    if (route.fields.size() > st.segment_begin.size()) {
      st.segment_begin.resize(route.fields.size());
      st.segment_end.resize(route.fields.size());
    }
  }
  if (cr.all_keywords_db && hs_alloc_scratch(cr.all_keywords_db, &st.scratch) != HS_SUCCESS)
    return Error(Status::Internal("hs_alloc_scratch failed for the keyword literal database"));
  for (const FieldRegexDatabase& db : cr.regex_dbs)
    if (hs_alloc_scratch(db.db, &st.scratch) != HS_SUCCESS)
      return Error(Status::Internal("hs_alloc_scratch failed for regex database of " + db.field));
  st.match_data = pcre2_match_data_create(4, nullptr);
  st.filter_use.resize(cr.json_routes.size());
  st.literal_gen.assign(cr.literal_text.size(), 0);
  st.route_literal_gen.assign(cr.route_literals.size(), 0);
  st.rule_gen.assign(cr.rules.size(), 0);
  st.pred_memo.assign(cr.preds.size(), 0);
  st.regex_hit_gen.assign(cr.preds.size(), 0);
  st.regex_db_gen.assign(cr.regex_dbs.size(), 0);
  st.regex_memo_use.resize(cr.regex_dbs.size());
  st.slot_gen.assign(cr.field_names.size(), 0);
  st.slot_first.assign(cr.field_names.size(), 0);
  st.slot_multi.assign(cr.field_names.size(), 0);
  return m;
}

namespace {

// A value the selective parse kept as written (Field::escaped) is decoded the first time it is
// read. A bad escape makes the event unusable, as it would have made the parse fail.
void decode_field(Matcher::State& st, Event& ev, Field& f) {
  if (!f.escaped) return;
  std::string_view decoded;
  if (parse::decode_json_string(f.value, ev.fields.arena(), &decoded)) {
    f.value = decoded;
  } else {
    st.bad_escape = true;
    f.value = {};
  }
  f.escaped = false;
}

class Evaluator {
 public:
  // `use_prefilter` false: evaluate without the literal scans' verdicts (before any scan ran).
  Evaluator(Matcher::State& st, const CompiledRules& cr, Event& ev, bool use_prefilter = true)
      : st_(st), cr_(cr), ev_(ev), use_prefilter_(use_prefilter) {}

  // First field with this id, as it stands (a value may still be as written), or nullptr.
  Field* first_as_written(std::uint32_t id) const {
    if (!st_.present(id)) return nullptr;
    return &ev_.fields.at(st_.slot_first[id]);
  }
  // First field with this id (decoded), or nullptr (the event's fields are indexed by id).
  const Field* first(std::uint32_t id) {
    Field* f = first_as_written(id);
    if (f != nullptr) decode_field(st_, ev_, *f);
    return f;
  }
  // Calls fn on every field with this id (decoded) until it returns true.
  template <typename Fn>
  bool any(std::uint32_t id, Fn&& fn) {
    const Field* f = first(id);
    if (!f) return false;
    if (!st_.slot_multi[id]) return fn(*f);
    return st_.each_field(ev_.fields, id, [&](std::size_t i) {
      Field& g = ev_.fields.at(i);
      decode_field(st_, ev_, g);
      return fn(g);
    });
  }

  bool node(std::uint32_t n) {
    const CompiledNode& nd = cr_.nodes[n];
    switch (nd.kind) {
      case CondNode::Kind::kTrue: return true;
      case CondNode::Kind::kFalse: return false;
      case CondNode::Kind::kPred: return pred(nd.pred);
      case CondNode::Kind::kNot: return !node(cr_.eval_children[nd.first_child]);
      case CondNode::Kind::kAnd:
        for (std::uint32_t i = 0; i < nd.child_count; ++i)
          if (!node(cr_.eval_children[nd.first_child + i])) return false;
        return true;
      case CondNode::Kind::kOr:
        for (std::uint32_t i = 0; i < nd.child_count; ++i)
          if (node(cr_.eval_children[nd.first_child + i])) return true;
        return false;
    }
    return false;
  }

  bool pred(std::uint32_t id) {
    const std::uint64_t memo = st_.pred_memo[id];
    if ((memo >> 1) == st_.gen) return (memo & 1) != 0;
    bool v = compute(cr_.preds[id], id);
    st_.pred_memo[id] = (std::uint64_t{st_.gen} << 1) | (v ? 1 : 0);
    return v;
  }

  // Positive evidence: (field, value) of every true predicate not under a `not`.
  void collect(std::uint32_t n, std::vector<MatchedField>& out) {
    const CompiledNode& nd = cr_.nodes[n];
    switch (nd.kind) {
      case CondNode::Kind::kPred: {
        if (!pred(nd.pred)) return;
        const CompiledPredicate& p = cr_.preds[nd.pred];
        if (p.field.empty()) {
          out.push_back(MatchedField{std::string_view(), ev_.raw});
          return;
        }
        // Logsource conditions (Channel, EventID, `_format`) route the event; the evidence is
        // what the rule's own detection matched.
        if (p.routing || p.field[0] == '_') return;
        if (const Field* f = first(p.field_id)) {
          for (const MatchedField& m : out)
            if (m.field == f->name && m.value.data() == f->value.data()) return;
          out.push_back(MatchedField{f->name, f->value});
        }
        return;
      }
      case CondNode::Kind::kAnd:
      case CondNode::Kind::kOr:
        for (std::uint32_t i = 0; i < nd.child_count; ++i) {
          std::uint32_t c = cr_.children[nd.first_child + i];
          if (node(c)) collect(c, out);
        }
        return;
      default: return;
    }
  }

 private:
  bool string_test(const CompiledPredicate& p, std::string_view v) {
    switch (p.op) {
      case MatchOp::kEquals: return equals(v, p.value, p.cased);
      case MatchOp::kContains: return contains(v, p.value, p.cased);
      case MatchOp::kStartsWith: return starts_with(v, p.value, p.cased);
      case MatchOp::kEndsWith: return ends_with(v, p.value, p.cased);
      default: return false;
    }
  }

  bool pcre_test(const CompiledPredicate& p, std::string_view v) {
    if (!p.pcre) return false;
    int rc = pcre2_match(p.pcre, reinterpret_cast<PCRE2_SPTR>(v.data()), v.size(), 0, 0,
                         st_.match_data, nullptr);
    return rc >= 0;
  }

  // Scans every value of the regex database's field once per event.
  void scan_regex_db(std::int32_t db_index) {
    if (st_.regex_db_gen[static_cast<std::size_t>(db_index)] == st_.gen) return;
    st_.regex_db_gen[static_cast<std::size_t>(db_index)] = st_.gen;
    const FieldRegexDatabase& db = cr_.regex_dbs[static_cast<std::size_t>(db_index)];
    st_.scanning_db = &db;
    // Values repeat (a PowerShell module's Payload, a command line): what the scan of the same
    // value found is remembered per database (ScanMemo), unless the database's values have
    // stopped repeating. A value kept as written is its own key when its escapes are all short
    // ones (the same bytes always decode to the same text), and is decoded only on a miss.
    // Keys as written and decoded keys are kept apart (namespaces 2i+1 and 2i): the same bytes
    // read differently are different text.
    Matcher::State::MemoUse& use = st_.regex_memo_use[static_cast<std::size_t>(db_index)];
    st_.each_field(ev_.fields, db.field_id, [&](std::size_t i) {
      Field& f = ev_.fields.at(i);
      if (f.escaped && !testable_as_written(i, f)) decode_field(st_, ev_, f);
      const std::string_view key = f.value;
      const auto ns = static_cast<std::uint32_t>(2 * db_index + (f.escaped ? 1 : 0));
      st_.remembered_scan(
          st_.regex_memo, use, ns, key,
          [&] {
            decode_field(st_, ev_, f);
            hs_scan(db.db, f.value.data(), static_cast<unsigned>(f.value.size()), 0, st_.scratch, on_regex, &st_);
          },
          [&](std::uint32_t pred) { st_.regex_hit_gen[pred] = st_.gen; });
      return false;
    });
  }

  bool compute(const CompiledPredicate& p, std::uint32_t id) {
    // The prefilter proved the literal absent: no value can satisfy the predicate. (JSON
    // routing conditions are evaluated before any scan, and route databases hold detection
    // literals only.)
    if (use_prefilter_ && p.literal != kNoLiteral && !(p.routing && ev_.format == LogFormat::kJson) &&
        st_.literal_gen[static_cast<std::size_t>(p.literal)] != st_.gen &&
        (cr_.literal_scope[static_cast<std::size_t>(p.literal)] &
         (ev_.format == LogFormat::kJson ? kScannedInJson : kScannedInText)) != 0)
      return false;
    switch (p.op) {
      case MatchOp::kEquals:
      case MatchOp::kContains:
      case MatchOp::kStartsWith:
      case MatchOp::kEndsWith:
        if (p.field.empty()) return keyword([&](std::string_view v) { return string_test(p, v); });
        if (p.has_escaped_value)
          return st_.each_field(ev_.fields, p.field_id, [&](std::size_t i) {
            Field& f = ev_.fields.at(i);
            if (f.kind == ValueKind::kNull) return false;
            if (f.escaped && testable_as_written(i, f))
              return escaped_string_test(p.op, f.value, p.escaped_value, p.cased);
            decode_field(st_, ev_, f);
            return string_test(p, f.value);
          });
        return any(p.field_id, [&](const Field& f) {
          return f.kind != ValueKind::kNull && string_test(p, f.value);
        });
      case MatchOp::kRegex:
        if (p.field.empty()) return keyword([&](std::string_view v) { return pcre_test(p, v); });
        if (p.regex_db >= 0) {
          scan_regex_db(p.regex_db);
          if (st_.regex_hit_gen[id] != st_.gen) return false;
          if (!p.regex_needs_confirm) return true;
        }
        return any(p.field_id, [&](const Field& f) { return pcre_test(p, f.value); });
      // Neither decodes the value: a value kept as written is empty exactly when its decoded
      // text is (every escape decodes to at least one byte).
      case MatchOp::kExists: return (first_as_written(p.field_id) != nullptr) == p.exists_expected;
      case MatchOp::kNull: {
        const Field* f = first_as_written(p.field_id);
        return f == nullptr || f->kind == ValueKind::kNull || f->value.empty();
      }
      case MatchOp::kLt:
      case MatchOp::kLte:
      case MatchOp::kGt:
      case MatchOp::kGte:
        return any(p.field_id, [&](const Field& f) {
          double x;
          if (!parse_number(f.value, &x)) return false;
          switch (p.op) {
            case MatchOp::kLt: return x < p.number;
            case MatchOp::kLte: return x <= p.number;
            case MatchOp::kGt: return x > p.number;
            default: return x >= p.number;
          }
        });
      case MatchOp::kCidr:
        return any(p.field_id, [&](const Field& f) { return in_cidr(f.value, p); });
      case MatchOp::kFieldRefEquals:
      case MatchOp::kFieldRefContains:
      case MatchOp::kFieldRefStartsWith:
      case MatchOp::kFieldRefEndsWith: {
        const Field* other = first(p.ref_field_id);
        if (!other) return false;
        std::string ref = p.cased ? std::string(other->value) : std::string();
        if (!p.cased) {
          ref.reserve(other->value.size());
          for (char c : other->value) ref += ascii_lower(c);
        }
        return any(p.field_id, [&](const Field& f) {
          switch (p.op) {
            case MatchOp::kFieldRefEquals: return equals(f.value, ref, p.cased);
            case MatchOp::kFieldRefContains: return contains(f.value, ref, p.cased);
            case MatchOp::kFieldRefStartsWith: return starts_with(f.value, ref, p.cased);
            default: return ends_with(f.value, ref, p.cased);
          }
        });
      }
    }
    return false;
  }

  // Whether field i, kept as written, can be tested without decoding (has_only_short_escapes):
  // asked once per field of an indexing, however many predicates read it.
  bool testable_as_written(std::size_t i, const Field& f) {
    if (i >= st_.short_escapes_epoch.size()) {
      st_.short_escapes_epoch.resize(i + 1, 0);
      st_.short_escapes_ok.resize(i + 1, 0);
    }
    if (st_.short_escapes_epoch[i] != st_.slot_epoch) {
      st_.short_escapes_epoch[i] = st_.slot_epoch;
      st_.short_escapes_ok[i] = parse::has_only_short_escapes(f.value) ? 1 : 0;
    }
    return st_.short_escapes_ok[i] != 0;
  }

  // Keywords search every field value of structured events and the whole raw text of others.
  template <typename Test>
  bool keyword(Test&& test) {
    if (ev_.format != LogFormat::kJson && test(ev_.raw)) return true;
    for (std::size_t i = 0; i < ev_.fields.size(); ++i) {
      Field& f = ev_.fields.at(i);
      if (!f.name.empty() && f.name[0] == '_') continue;  // pseudo-fields are not log content
      decode_field(st_, ev_, f);
      if (test(f.value)) return true;
    }
    return false;
  }

  Matcher::State& st_;
  const CompiledRules& cr_;
  Event& ev_;
  bool use_prefilter_ = true;
};

}  // namespace

bool Matcher::match_record(Event& event, parse::RecordParser& parser, LogFormat format,
                           std::vector<RuleMatch>& out) {
  const CompiledRules& cr = rules_->compiled();
  State& st = *state_;
  if (++st.gen == 0) {  // wrapped: reset the memo tables once every 4 billion events
    std::fill(st.literal_gen.begin(), st.literal_gen.end(), 0);
    std::fill(st.route_literal_gen.begin(), st.route_literal_gen.end(), 0);
    std::fill(st.rule_gen.begin(), st.rule_gen.end(), 0);
    std::fill(st.pred_memo.begin(), st.pred_memo.end(), 0);
    std::fill(st.regex_hit_gen.begin(), st.regex_hit_gen.end(), 0);
    std::fill(st.regex_db_gen.begin(), st.regex_db_gen.end(), 0);
    st.gen = 1;
  }
  stats_.events++;
  st.candidates.clear();
  st.parsed = false;

  // Detected once here; the parser is then told the format instead of detecting it again.
  // The parser's detection: it knows the W3C "#Fields:" directive of each stream it has read.
  const LogFormat detected = parser.detect(event, format);
  const bool declared = !event.declared_product.empty() || !event.declared_category.empty() ||
                        !event.declared_service.empty();
  const std::uint32_t event_format_bit = format_bit(detected) | (declared ? kDeclaredLogsourceBit : 0);

  // Indexes the event's fields by id. `ids` (from parse_selected) gives each field's id
  // directly; without it names are looked up.
  auto index_fields = [&](const std::vector<int>* ids) {
    if (!event.declared_product.empty()) event.fields.add("_product", event.declared_product);
    if (!event.declared_category.empty()) event.fields.add("_category", event.declared_category);
    if (!event.declared_service.empty()) event.fields.add("_service", event.declared_service);
    // A new epoch per indexing: a re-parse (selected -> full) must not see the old positions.
    if (++st.slot_epoch == 0) {
      std::fill(st.slot_gen.begin(), st.slot_gen.end(), 0);
      std::fill(st.short_escapes_epoch.begin(), st.short_escapes_epoch.end(), 0);
      st.slot_epoch = 1;
    }
    std::span<const Field> fields = event.fields.fields();
    for (std::uint32_t i = 0; i < fields.size(); ++i) {
      std::uint32_t id;
      if (ids != nullptr && i < ids->size() && (*ids)[i] >= 0) {
        id = static_cast<std::uint32_t>((*ids)[i]);
      } else {
        // `_format` (ids -1) and the declared pseudo-fields, or a full parse.
        int found = cr.selection->find(fields[i].name);
        if (found < 0) continue;
        id = static_cast<std::uint32_t>(found);
      }
      if (st.slot_gen[id] != st.slot_epoch) {
        st.slot_gen[id] = st.slot_epoch;
        st.slot_first[id] = i;
        st.slot_multi[id] = 0;
      } else {
        st.slot_multi[id] = 1;
      }
    }
  };
  // Parses every field (again, after a selective parse) and indexes them.
  auto parse_full = [&]() -> bool {
    st.full = true;
    st.parse_ok = parser.parse(format, event, detected, cr.selection.get());
    if (st.parse_ok) index_fields(nullptr);
    return st.parse_ok;
  };
  // Parses the event once, in full, if nothing has parsed it yet.
  auto ensure_parsed = [&]() -> bool {
    if (!st.parsed) {
      st.parsed = true;
      stats_.events_parsed++;
      parse_full();
    }
    return st.parse_ok;
  };
  // Scans every decoded value against `db`: escapes in the raw bytes could hide a literal.
  auto scan_decoded_values = [&](const hs_database_t* db) {
    stats_.decoded_rescans++;
    for (const Field& f : event.fields.fields()) scan_literals(st, db, f.value, on_literal);
  };
  // Whether rule r's route gate (CompiledRule::route_gate) holds for the route values `set`
  // was made for, settled the first time it is asked. It reads route fields only, so the
  // current event answers for every event with these route values.
  auto gate_open = [&](State::RouteSet& set, std::uint32_t r) {
    const std::uint32_t gate = cr.rules[r].route_gate;
    if (gate == kNoGate) return true;
    std::vector<std::uint8_t>& gates = set.gates;
    if (gates.empty()) gates.assign(cr.rules.size(), State::kGateUnknown);
    if (gates[r] == State::kGateUnknown) {
      Evaluator conditions(st, cr, event, /*use_prefilter=*/false);
      gates[r] = conditions.node(gate) ? State::kGateOpen : State::kGateClosed;
    }
    return gates[r] == State::kGateOpen;
  };
  // The JSON routes whose logsource conditions this event meets, and their uncovered rules
  // whose route gates hold: both depend only on the values of the route fields (and on
  // whether the event declares a logsource), so they are computed once per distinct values.
  auto json_routes = [&]() -> State::RouteSet& {
    std::string& key = st.route_key;
    key.clear();
    std::span<const Field> fields = event.fields.fields();
    for (std::uint32_t id : cr.route_fields) {
      st.each_field(event.fields, id, [&](std::size_t i) {
        const Field& f = fields[i];
        // As written or decoded: the same text means different values.
        key += static_cast<char>('a' + static_cast<int>(f.kind) + (f.escaped ? 16 : 0));
        key.append(f.value);
        key += '\0';
        return false;
      });
      key += '\1';
    }
    key += declared ? 'D' : 'n';
    if (st.last_route != nullptr && st.last_route->first == key) return st.last_route->second;
    auto it = st.route_cache.find(key);
    if (it != st.route_cache.end()) {
      st.last_route = &*it;
      return it->second;
    }
    if (st.route_cache.size() >= 4096) {  // bounded: unusual input
      st.route_cache.clear();
      st.last_route = nullptr;
    }
    State::RouteSet set;
    std::vector<std::uint32_t> keyword_routes;
    // Before any scan: route conditions and gates read route fields only, evaluated in full.
    Evaluator conditions(st, cr, event, /*use_prefilter=*/false);
    for (std::uint32_t ri = 0; ri < cr.json_routes.size(); ++ri) {
      const JsonRoute& route = cr.json_routes[ri];
      if (!(route.format_mask & event_format_bit) || !conditions.node(route.condition)) continue;
      set.routes.push_back(ri);
      if (route.keyword_db) keyword_routes.push_back(ri);
      for (std::uint32_t r : route.always)
        if (gate_open(set, r)) set.always.push_back(r);
    }
    if (keyword_routes.size() == 1) {
      set.keyword_db = cr.json_routes[keyword_routes[0]].keyword_db;
      set.keyword_prefilter = &cr.json_routes[keyword_routes[0]].keyword_prefilter;
      set.filter_use = &st.filter_use[keyword_routes[0]];
    } else if (keyword_routes.size() > 1) {
      set.keyword_db = cr.all_keywords_db;
      if (State::KeywordUnion* u = st.keyword_union(keyword_routes)) {
        set.keyword_prefilter = &u->filter;
        set.filter_use = &u->use;
      }
    }
    st.last_route = &*st.route_cache.emplace(key, std::move(set)).first;
    return st.last_route->second;
  };
  // Whether a keyword literal may occur in the raw record: false when the route set's keyword
  // prefilter finds none of its n-grams (KeywordPrefilter). *escape: whether the record has
  // \u or \/ escapes (has_noncanonical_escape), found in the same pass when the filter runs.
  auto keyword_may_occur = [&](const State::RouteSet& set, bool* escape) {
    stats_.keyword_checks++;
    const KeywordPrefilter* filter = set.keyword_prefilter;  // set with filter_use
    if (filter == nullptr || !filter->active() || set.filter_use->skip()) {
      *escape = has_noncanonical_escape(event.raw);
      return true;
    }
    const bool may = filter->may_match(event.raw, escape);
    set.filter_use->count(!may);
    return may;
  };
  // Whether a value is a view of the record's own bytes (as written, escaped or not).
  auto as_written = [&](const Field& f) {
    return f.escaped || (f.value.data() >= event.raw.data() && f.value.data() < event.raw.data() + event.raw.size());
  };
  // Lays out the values of a layout's fields (JsonRoute) into `buf`, NUL after each, and sets
  // segment_begin / segment_end. `canonical`: in canonical JSON-escaped form, which is what the
  // route databases hold: values as written, except the few with \u or \/ escapes (decoded and
  // escaped again), and values a full parse has decoded (escaped again). Otherwise values are
  // taken as written (no escape test): the memo key, from which the canonical bytes follow
  // (a value holds no NUL, so the key splits into its values).
  auto lay_out = [&](std::string& buf, const JsonRoute& route, const JsonRoute::Layout& layout, bool canonical) {
    buf.clear();
    for (std::uint32_t slot = layout.first_slot; slot < layout.first_slot + layout.slot_count; ++slot) {
      const std::uint32_t id = route.fields[slot];
      const auto begin = static_cast<std::uint32_t>(buf.size());
      st.segment_begin[slot] = begin;
      st.each_field(event.fields, id, [&](std::size_t i) {
        Field& f = event.fields.at(i);
        if (f.escaped && canonical && has_noncanonical_escape(f.value)) {
          decode_field(st, event, f);
          append_json_escaped(buf, f.value, InvalidUtf8::kKeep);
        } else if (as_written(f)) {
          buf.append(f.value);
        } else {  // decoded (by a full parse): escaped again
          append_json_escaped(buf, f.value, InvalidUtf8::kKeep);
        }
        buf += '\0';
        return false;
      });
      // Without the last NUL (an absent field: begin == end, which no match can end in).
      st.segment_end[slot] = buf.size() > begin ? static_cast<std::uint32_t>(buf.size() - 1) : begin;
    }
  };
  // Whether a layout's values as written hold an escape whose canonical form differs (\u, \/).
  auto has_noncanonical_value = [&](const JsonRoute& route, const JsonRoute::Layout& layout) {
    for (std::uint32_t slot = layout.first_slot; slot < layout.first_slot + layout.slot_count; ++slot) {
      const std::uint32_t id = route.fields[slot];
      if (st.each_field(event.fields, id, [&](std::size_t i) {
            const Field& f = event.fields.at(i);
            return f.escaped && has_noncanonical_escape(f.value);
          }))
        return true;
    }
    return false;
  };
  // Scans a layout's canonical bytes; `as_laid_out` holds the values as written (lay_out with
  // canonical false), which are those bytes unless a value has a \u or \/ escape.
  auto scan_canonical = [&](const JsonRoute& route, const JsonRoute::Layout& layout, std::string_view as_laid_out) {
    std::string_view bytes = as_laid_out;
    if (has_noncanonical_value(route, layout)) {
      lay_out(st.route_canonical, route, layout, /*canonical=*/true);
      bytes = st.route_canonical;
    }
    scan_literals(st, layout.db, bytes, on_route_literal);
  };
  // Lays out a layout's values and scans them once, or finds what the scan of the same bytes
  // found before (ScanMemo). The memo key is the values as written (not their canonical form:
  // the same written bytes always give the same canonical ones, and most values are not
  // tested for escapes at all), then where each field's values end (the same bytes can be
  // split between the fields differently).
  auto scan_layout = [&](std::uint32_t layout_index, const JsonRoute& route, const JsonRoute::Layout& layout) {
    std::string& buf = st.route_values;
    std::string_view key, values;
    bool laid_out = false;
    auto lay_out_key = [&] {
      lay_out(buf, route, layout, /*canonical=*/false);
      // One append: a light layout has dozens of fields, most absent from any one event.
      const std::size_t values_size = buf.size();
      buf.append(reinterpret_cast<const char*>(&st.segment_end[layout.first_slot]),
                 layout.slot_count * sizeof(std::uint32_t));
      key = std::string_view(buf.data(), buf.size());
      values = key.substr(0, values_size);
      laid_out = true;
    };
    // A layout of one field that has one value as written (CallTrace, ContextInfo, a command
    // line: most of the memo's bytes) is keyed by that value, a view of the record, and laid
    // out only when it is scanned. Such a key holds no NUL, a laid-out one always does.
    if (layout.slot_count == 1) {
      const std::uint32_t id = route.fields[layout.first_slot];
      if (st.present(id) && !st.slot_multi[id]) {
        const Field& f = event.fields.fields()[st.slot_first[id]];
        if (!f.value.empty() && as_written(f)) key = f.value;
      }
    }
    if (key.empty()) {
      lay_out_key();
      if (values.empty()) return;
    }
    stats_.layout_scans++;
    const bool found = st.remembered_scan(
        st.memo, st.memo_use[layout_index], layout_index, key,
        [&] {
          if (!laid_out) lay_out_key();
          scan_canonical(route, layout, values);
        },
        [&](std::uint32_t id) {
          if (st.route_literal_gen[id] != st.gen) st.accept_route_literal(id);
        });
    if (found) {
      stats_.layout_memo_hits++;
      if (st.scan_sink) {
        if (!laid_out) lay_out_key();
        // Benchmarks replay the canonical bytes.
        if (has_noncanonical_value(route, layout)) lay_out(st.route_canonical, route, layout, true);
        else st.route_canonical.assign(values);
        st.scan_sink->push_back(LiteralScan{layout.db, {}, st.route_canonical});
      }
    }
  };

  State::RouteSet* json_set = nullptr;  // the JSON event's routes (json_routes)
  if (detected == LogFormat::kJson) {
    // JSON: the fields rules read are extracted (other values are skipped; values with escapes
    // are kept as written and decoded only if a rule reads them), the routes the event's
    // logsource selects are looked up, and the values of the fields each route has literals
    // for are scanned against them in one scan per route, in canonical JSON-escaped form on
    // both sides, so escapes cannot hide a literal. Keywords are found by one scan of the raw
    // record (literals also in JSON-escaped form), only when a route with keyword rules
    // applies. A full parse is needed for keywords (they search every value) and for
    // --validate.
    st.parsed = true;
    stats_.events_parsed++;
    if (parse_every_event_) {
      if (!parse_full()) return false;
    } else {
      st.full = false;
      st.parse_ok = parser.parse_selected(detected, event, *cr.selection, st.ids, /*keep_escaped=*/true);
      if (!st.parse_ok) return false;
      index_fields(&st.ids);
    }
    State::RouteSet& route_set = json_routes();
    json_set = &route_set;
    const std::vector<std::uint32_t>& routes = route_set.routes;
    for (std::uint32_t ri : routes) {
      const JsonRoute& route = cr.json_routes[ri];
      for (std::uint32_t l = 0; l < route.layouts.size(); ++l)
        scan_layout(st.layout_base[ri] + l, route, route.layouts[l]);
    }
    for (std::uint32_t r : route_set.always) st.add_candidate(r);
    if (const hs_database_t* db = route_set.keyword_db) {
      const std::size_t before = st.candidates.size();
      bool rescan = false;
      if (keyword_may_occur(route_set, &rescan)) {
        scan_literals(st, db, event.raw, on_literal, /*raw=*/true);
      } else {
        stats_.keyword_skips++;
        // Benchmarks replay Hyperscan over every record vigil searches, whatever ruled it out.
        if (st.scan_sink) st.scan_sink->push_back(LiteralScan{db, event.raw, {}});
      }
      // A keyword written with \u or \/ escapes is in neither form the database holds.
      if ((rescan || st.candidates.size() > before) && !st.full && !parse_full()) return false;
      if (rescan) scan_decoded_values(db);
    }
  } else {
    // Text records hold their values verbatim: one scan of the raw line. Records whose parsed
    // values may differ from the raw bytes (escapes, hex-encoded audit values, IIS's '+' for a
    // space) get a second scan over the decoded values.
    if (cr.text_db) {
      scan_literals(st, cr.text_db, event.raw, on_literal, /*raw=*/true);
      if (parse::values_may_differ_from_raw(detected, event.raw)) {
        if (!ensure_parsed()) return false;
        scan_decoded_values(cr.text_db);
      }
    }
    // The derived web views' literals are only in views_db (see Builder::build_literal_db):
    // scanned over each view, decoded or a view of the raw bytes, so that a hit lies in the
    // field its literal belongs to.
    if (cr.views_db && parse::format_has_web_views(detected)) {
      if (!ensure_parsed()) return false;
      for (const Field& f : event.fields.fields())
        if (parse::is_web_view_name(f.name)) scan_literals(st, cr.views_db, f.value, on_literal);
    }
  }

  // Candidates whose logsource cannot apply to this kind of event go before anything is parsed;
  // for text records, rules with no literal cover join for the formats they apply to (JSON
  // events got theirs from their routes).
  // JSON candidates whose route gate is closed for this event's route values go too.
  // So do JSON candidates none of whose confirming literals (CompiledRule::confirm_literals)
  // was found.
  auto confirmed = [&](const CompiledRule& rule) {
    if (!rule.confirm_in_json) return true;
    for (std::uint32_t l : rule.confirm_literals)
      if (st.literal_gen[l] == st.gen) return true;
    return false;
  };
  std::size_t kept = 0;
  for (std::uint32_t r : st.candidates)
    if ((cr.rules[r].format_mask & event_format_bit) &&
        (json_set == nullptr || (confirmed(cr.rules[r]) && gate_open(*json_set, r))))
      st.candidates[kept++] = r;
  st.candidates.resize(kept);
  if (detected != LogFormat::kJson)
    for (std::uint32_t r : cr.always_rules)
      if (cr.rules[r].format_mask & event_format_bit) st.candidates.push_back(r);
  if (st.candidates.empty()) {
    // Nothing can match. Records not parsed yet are still checked cheaply so that broken
    // input is counted even when no rule looks at it.
    if (parse_every_event_) return ensure_parsed();
    if (!st.parsed) {
      parse::precheck(event, detected);
      if (event.parse_error != ParseErrorKind::kNone && event.parse_error != ParseErrorKind::kInvalidUtf8)
        return false;
    }
    return !st.parsed || st.parse_ok;
  }
  if (!ensure_parsed()) return false;
  std::sort(st.candidates.begin(), st.candidates.end());
  if (!st.full) {
    // A rule with keywords searches every value: give it every field (before any evaluation,
    // so no evidence points into a field view that is rebuilt).
    bool need_all = false;
    for (std::uint32_t r : st.candidates) need_all = need_all || cr.rules[r].reads_all_fields;
    if (need_all && !parse_full()) return false;
  }
  Evaluator eval(st, cr, event);
  const bool routed = detected == LogFormat::kJson;
  for (std::uint32_t r : st.candidates) {
    stats_.candidate_rules++;
    const CompiledRule& rule = cr.rules[r];
    // A JSON event's candidates come from the routes that apply to it, except through keyword
    // literals (shared by every route's keyword rules): those rules test their logsource too.
    if (!eval.node(routed && !rule.reads_all_fields ? rule.routed_root : rule.root)) continue;
    RuleMatch m;
    m.rule = rule.source;
    eval.collect(rule.root, m.matched);
    out.push_back(std::move(m));
    stats_.matches++;
  }
  return true;
}

bool Matcher::match(Event& event, parse::RecordParser& parser, LogFormat format,
                    std::vector<RuleMatch>& out) {
  const std::size_t out_before = out.size();
  State& st = *state_;
  st.bad_escape = false;
  bool usable;
  const std::string_view raw = event.raw;
  if (format == LogFormat::kWinXml || (format == LogFormat::kUnknown && !raw.empty() && raw[0] == '<' &&
                                       parse::detect_format(raw) == LogFormat::kWinXml)) {
    // Windows event XML: matched as the evtx_dump JSON it converts to, so that it takes the
    // JSON path (logsource routes, prefilter over decoded values: XML's &amp; and &quot; cannot
    // hide a literal) with the one Windows mapping. The record stays the XML for the alert;
    // the fields point into st.xml_json, which lives until the next record.
    const ParseErrorKind err = st.xml.convert(raw, st.xml_json);
    if (err != ParseErrorKind::kNone) {
      stats_.events++;
      stats_.events_parsed++;
      event.fields.clear();
      event.format = LogFormat::kWinXml;
      event.fields.add("_format", to_string(LogFormat::kWinXml));
      event.parse_error = err;
      return false;
    }
    event.raw = std::string_view(st.xml_json.data(), st.xml_json.size() - simdjson::SIMDJSON_PADDING);
    usable = match_record(event, parser, LogFormat::kJson, out);
    event.raw = raw;
    event.format = LogFormat::kWinXml;
    if (event.parse_error == ParseErrorKind::kInvalidJson || event.parse_error == ParseErrorKind::kTruncatedJson)
      event.parse_error = ParseErrorKind::kInvalidXml;
    if (!event.fields.empty() && event.fields.fields()[0].name == "_format")
      event.fields.at(0).value = to_string(LogFormat::kWinXml);
  } else {
    usable = match_record(event, parser, format, out);
  }
  if (out.size() > out_before) {
    // Whoever handles the alerts may read any field: none is left as written.
    for (std::size_t i = 0; i < event.fields.size(); ++i) decode_field(st, event, event.fields.at(i));
  }
  if (st.bad_escape) {
    // A value kept as written held an escape JSON does not define: the record is not valid
    // JSON after all (the selective parse leaves that check to whoever decodes the value).
    stats_.matches -= out.size() - out_before;
    out.resize(out_before);
    event.parse_error = ParseErrorKind::kInvalidJson;
    return false;
  }
  return usable;
}

}  // namespace vigil::rules
