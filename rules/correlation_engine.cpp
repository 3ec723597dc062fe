#include "rules/correlation_engine.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <ctime>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/ascii.h"
#include "core/time_text.h"

namespace vigil::rules {

namespace {

constexpr std::int64_t kFar = std::numeric_limits<std::int64_t>::max() / 4;
constexpr char kSep = '\x1f';
constexpr std::uint32_t kNone = 0xFFFFFFFFu;

// Times in correlation alerts are read by people: whole seconds unless the events had more.
std::string window_time(std::int64_t unix_ns) { return format_rfc3339(unix_ns, Rfc3339Fraction::kWhenNonZero); }

// One contribution. The counted values of value_count live beside the entries
// (Group::counted), so the other types carry 16 bytes per event.
struct Entry {
  std::int64_t t = 0;
  std::uint32_t pos = 0;
};

// A window that raised its alert before it closed (early firing).
struct FiredWindow {
  std::int64_t start = 0;      // its first event's time when it fired (names the alert)
  std::uint64_t reported = 0;  // event_count of the last record emitted for it
  bool visible = false;        // its alert was emitted (kept, not suppressed): revisions follow
  bool revise = false;         // events were added since that record (listed in Shard::revise)
  std::uint32_t seq = 0;       // Alert::revision_seq of the last record emitted for it
};

// A group's state, in its shard's slab (a free slot has correlation kNone). Groups are named by
// slot index in the heaps and the LRU list, which keeps those moves to a few integers.
struct Group {
  std::string key;                   // encode_group_key(): the group-by values (short ones stay inline)
  std::uint32_t correlation = kNone;  // index in Impl::corr; kNone: free slot
  std::vector<Entry> entries;        // sorted by t
  std::vector<std::string> counted;  // value_count only: the counted value of entries[i]
  std::string tenant, host;          // of the latest contributing event
  std::vector<FiredWindow> fired;    // early firing: windows that fired and are not closed yet
  std::uint32_t newer = kNone, older = kNone;  // LRU links
  std::uint32_t generation = 0;  // bumped when the slot is freed: older heap items and dirty marks are stale
  std::uint32_t hash = 0;        // index hash (upper half of hash_key)
  std::uint32_t bytes = 0;
  std::uint32_t counted_bytes = 0;  // counted values longer than the small-string buffer
  bool dirty = false;               // listed in Shard::dirty since the last collect_changes
};

// Group key -> slab index: open addressing with linear probing and backward-shift deletion.
// 8 bytes a slot, no allocation per group.
class GroupIndex {
 public:
  template <class Matches>
  std::uint32_t find(std::uint32_t hash, Matches matches) const {
    if (slots_.empty()) return kNone;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id_plus_one == 0) return kNone;
      if (s.hash == hash && matches(s.id_plus_one - 1)) return s.id_plus_one - 1;
    }
  }
  void insert(std::uint32_t hash, std::uint32_t id) {
    if ((used_ + 1) * 10 > slots_.size() * 7) grow();
    place(hash, id);
    ++used_;
  }
  void erase(std::uint32_t hash, std::uint32_t id) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash & mask;
    while (slots_[i].id_plus_one != id + 1) i = (i + 1) & mask;
    // Backward shift: move later members of the probe run into the hole so lookups that
    // stop at an empty slot still find them.
    std::size_t j = i;
    for (;;) {
      slots_[i] = Slot{};
      for (;;) {
        j = (j + 1) & mask;
        if (slots_[j].id_plus_one == 0) {
          --used_;
          return;
        }
        const std::size_t home = slots_[j].hash & mask;
        const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) break;
      }
      slots_[i] = slots_[j];
      i = j;
    }
  }
  std::size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint32_t id_plus_one = 0;  // 0 = empty
    std::uint32_t hash = 0;
  };
  void place(std::uint32_t hash, std::uint32_t id) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash & mask;
    while (slots_[i].id_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = Slot{id + 1, hash};
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<std::size_t>(16, old.size() * 2), Slot{});
    for (const Slot& s : old)
      if (s.id_plus_one != 0) place(s.hash, s.id_plus_one - 1);
  }
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

// A suppression period of one rule and key.
struct SuppressState {
  std::int64_t until = 0, first = 0, last = 0;
  std::uint64_t repeats = 0;
  std::string rule_id, title, path, level, tenant, host;
  std::vector<std::string> tags, attack_tactics, attack_techniques;
  std::vector<AlertField> key_fields;
};

struct HeapItem {
  std::int64_t at;
  std::string key;
  bool operator>(const HeapItem& o) const { return at > o.at; }
};
using MinHeap = std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>>;

// A pending window end: 16 bytes, so heap pushes and pops move no strings.
struct CloseItem {
  std::int64_t at;
  std::uint32_t id, generation;
  bool operator>(const CloseItem& o) const { return at > o.at; }
};
using CloseHeap = std::priority_queue<CloseItem, std::vector<CloseItem>, std::greater<CloseItem>>;

struct Shard {
  std::mutex mu;
  std::vector<Group> slab;
  std::vector<std::uint32_t> free_slots;
  GroupIndex index;
  std::size_t live = 0;
  std::uint32_t lru_newest = kNone, lru_oldest = kNone;
  std::vector<CloseHeap> closes;  // window ends, by the correlation's depth (chains close inner first)
  std::unordered_map<std::string, SuppressState> suppress;
  MinHeap suppress_ends;
  // Periods with repeats that admit() found over before advance() ended them: their summaries
  // go out at the end of the next advance() (the same batch's, in the daemon).
  std::vector<SuppressState> ended;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> dirty;  // (slot, generation) changed since collect_changes
  std::vector<std::pair<std::uint32_t, std::uint32_t>> revise;  // (slot, generation) with a FiredWindow to revise
  std::vector<std::pair<std::uint32_t, std::string>> dropped;  // groups removed since collect_changes
  std::unordered_set<std::string> dirty_suppress;
  std::size_t bytes = 0;

  std::uint32_t find(std::uint32_t ci, std::string_view key, std::uint32_t hash) const {
    return index.find(hash, [&](std::uint32_t id) { return slab[id].correlation == ci && slab[id].key == key; });
  }
  std::uint32_t add(std::uint32_t ci, std::string_view key, std::uint32_t hash) {
    std::uint32_t id;
    if (!free_slots.empty()) {
      id = free_slots.back();
      free_slots.pop_back();
    } else {
      id = static_cast<std::uint32_t>(slab.size());
      slab.emplace_back();
    }
    Group& g = slab[id];
    g.key.assign(key);
    g.correlation = ci;
    g.hash = hash;
    index.insert(hash, id);
    ++live;
    link_newest(id);
    return id;
  }
  void link_newest(std::uint32_t id) {
    Group& g = slab[id];
    g.newer = kNone;
    g.older = lru_newest;
    if (lru_newest != kNone) slab[lru_newest].newer = id;
    lru_newest = id;
    if (lru_oldest == kNone) lru_oldest = id;
  }
  void unlink(std::uint32_t id) {
    Group& g = slab[id];
    if (g.newer != kNone) slab[g.newer].older = g.older;
    else lru_newest = g.older;
    if (g.older != kNone) slab[g.older].newer = g.newer;
    else lru_oldest = g.newer;
  }
  void touch(std::uint32_t id) {
    if (lru_newest == id) return;
    unlink(id);
    link_newest(id);
  }
  // Frees the slot; the key is kept for collect_changes (a delete record).
  void remove(std::uint32_t id) {
    Group& g = slab[id];
    unlink(id);
    index.erase(g.hash, id);
    bytes -= g.bytes;
    dropped.emplace_back(g.correlation, std::move(g.key));
    g.key.clear();
    g.correlation = kNone;
    std::vector<Entry>().swap(g.entries);
    std::vector<std::string>().swap(g.counted);
    std::string().swap(g.tenant);
    std::string().swap(g.host);
    std::vector<FiredWindow>().swap(g.fired);
    g.bytes = g.counted_bytes = 0;
    g.dirty = false;
    ++g.generation;
    --live;
    free_slots.push_back(id);
  }
  void mark_dirty(std::uint32_t id) {
    Group& g = slab[id];
    if (g.dirty) return;
    g.dirty = true;
    dirty.emplace_back(id, g.generation);
  }
};

std::size_t heap_string_bytes(const std::string& s) { return s.size() > 15 ? s.capacity() + 1 : 0; }

// Approximate heap use of a group: its slab record, index slot, key and strings, entries
// (counted values longer than the small-string buffer count their bytes too).
std::uint32_t group_bytes(const Group& g) {
  std::size_t b = sizeof(Group) + 12 + heap_string_bytes(g.key) + heap_string_bytes(g.tenant) +
                  heap_string_bytes(g.host) + g.counted_bytes;
  b += g.entries.capacity() * sizeof(Entry) + g.counted.capacity() * sizeof(std::string) +
       g.fired.capacity() * sizeof(FiredWindow);
  return static_cast<std::uint32_t>(std::min<std::size_t>(b, 0xFFFFFFFFu));
}

// Group key: each group-by value as a varint length and its bytes, so any value (even one
// holding separators) maps back unambiguously. An IPv4 address takes 12 bytes: inline in the
// std::string, no allocation and no second cache line to compare.
void encode_group_key(std::string& key, const std::vector<std::string>& values) {
  key.clear();
  for (const std::string& v : values) {
    std::size_t n = v.size();
    while (n >= 0x80) {
      key.push_back(static_cast<char>(0x80 | (n & 0x7F)));
      n >>= 7;
    }
    key.push_back(static_cast<char>(n));
    key += v;
  }
}
std::vector<std::string> group_key_values(std::string_view key) {
  std::vector<std::string> values;
  std::size_t i = 0;
  while (i < key.size()) {
    std::size_t n = 0;
    for (int shift = 0; i < key.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(key[i++]);
      n |= std::size_t(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    values.emplace_back(key.substr(i, n));
    i += n;
  }
  return values;
}

void put_u32(std::string& s, std::uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_i64(std::string& s, std::int64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& s, std::string_view v) {
  put_u32(s, static_cast<std::uint32_t>(v.size()));
  s.append(v);
}
struct Reader {
  std::string_view in;
  bool ok = true;
  std::uint32_t u32() {
    if (in.size() < 4) return ok = false, 0;
    std::uint32_t v;
    std::memcpy(&v, in.data(), 4);
    in.remove_prefix(4);
    return v;
  }
  std::int64_t i64() {
    if (in.size() < 8) return ok = false, 0;
    std::int64_t v;
    std::memcpy(&v, in.data(), 8);
    in.remove_prefix(8);
    return v;
  }
  std::string str() {
    std::uint32_t n = u32();
    if (!ok || in.size() < n) return ok = false, std::string();
    std::string v(in.substr(0, n));
    in.remove_prefix(n);
    return v;
  }
};

std::uint64_t hash_key(std::string_view key) { return std::hash<std::string_view>{}(key); }

// Hash of a group (correlation, encoded values); mixed so that the low bits (shard) and the
// high bits (index slot) both depend on the correlation.
std::uint64_t hash_group(std::uint32_t ci, std::string_view key) {
  std::uint64_t x = hash_key(key) + (std::uint64_t(ci) + 1) * 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

struct CompiledCorrelation {
  CorrelationRule rule;
  // Per referenced rule (position): the event field read for each group-by name, and for
  // value_count's field (aliases resolved for that rule's name or id).
  std::vector<std::vector<std::string>> group_fields;
  std::vector<std::string> value_fields;
  std::vector<RuleBinding::Input> parents;  // correlations that read this one
  std::uint32_t depth = 0;                  // 0: reads detection rules only; else 1 + its deepest input
  // The condition can only become true and stay true as events are added (lower bounds only):
  // it may fire early, and its deciding time is when it first held.
  bool early = false;
  bool keep_alerts = true;                  // not referenced, or referenced with generate: true
  struct Extract {
    std::string name, from;
    pcre2_code* code = nullptr;
  };
  std::vector<Extract> extract;
};

struct CorrelationEngine::Impl {
  CorrelationOptions options;
  std::vector<CompiledCorrelation> corr;
  std::unordered_map<std::string, std::uint32_t> corr_by_ref;  // id or name -> index
  std::vector<std::unique_ptr<Shard>> shards;
  std::size_t shard_cap = 0;
  std::uint32_t max_depth = 0;
  std::atomic<bool> watermark_dirty{false};
  // Event-time progress of each thread that feeds events. Matcher threads take batches in
  // parallel, so one may be at batch N while another is already at N+1: while a thread is
  // inside a batch (batch_begin() .. advance()) the watermark does not pass the latest event
  // time that thread had seen before, so the earlier batch's events are not taken for late ones.
  struct Progress {
    std::atomic<std::int64_t> max_t{0};
    std::atomic<bool> busy{false};  // between batch_begin() and the batch's advance()
  };
  static constexpr unsigned kSlots = 64;
  Progress progress[kSlots];
  std::atomic<unsigned> next_slot{0};
  std::atomic<std::int64_t> progress_t{0};  // the watermark's base, updated at batch ends
  // Records handed out by collect_changes() and not yet confirmed by changes_saved(): handed
  // out again (newest value per key) until then, so a commit that fails loses none of them.
  std::mutex unsaved_mu;
  std::map<std::string, std::optional<std::string>> unsaved;
  Progress& my_progress() {
    thread_local const Impl* owner = nullptr;
    thread_local unsigned slot = 0;
    if (owner != this) {
      owner = this;
      slot = next_slot.fetch_add(1) % kSlots;
    }
    return progress[slot];
  }

  ~Impl() {
    for (CompiledCorrelation& c : corr)
      for (auto& x : c.extract) pcre2_code_free(x.code);
  }
  Shard& shard_of(std::string_view key) { return *shards[hash_key(key) % shards.size()]; }
};

Status CorrelationOptions::validate() const {
  if (shards == 0 || shards > 4096) return Status::InvalidArgument("correlation: shards must be 1..4096");
  if (allowed_lateness_ns < 0) return Status::InvalidArgument("correlation: lateness must be >= 0");
  if (max_memory_bytes < (1u << 16)) return Status::InvalidArgument("correlation: memory cap must be at least 64 KiB");
  return Status::Ok();
}

CorrelationEngine::CorrelationEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CorrelationEngine::~CorrelationEngine() = default;

Result<std::unique_ptr<CorrelationEngine>> CorrelationEngine::create(std::vector<CorrelationRule> correlations,
                                                                     const CorrelationOptions& options) {
  if (Status st = options.validate(); !st.ok()) return Error(st);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  for (unsigned i = 0; i < options.shards; ++i) impl->shards.push_back(std::make_unique<Shard>());
  impl->shard_cap = std::max<std::size_t>(4096, options.max_memory_bytes / options.shards);
  for (CorrelationRule& r : correlations) {
    CompiledCorrelation c;
    for (const std::string& ref : r.rules) {
      std::vector<std::string> fields;
      for (const std::string& g : r.group_by) {
        std::string f = g;
        if (auto a = r.aliases.find(g); a != r.aliases.end())
          if (auto m = a->second.find(ref); m != a->second.end()) f = m->second;
        fields.push_back(f);
      }
      c.group_fields.push_back(std::move(fields));
      std::string vf = r.value_field;
      if (auto a = r.aliases.find(vf); a != r.aliases.end())
        if (auto m = a->second.find(ref); m != a->second.end()) vf = m->second;
      c.value_fields.push_back(vf);
    }
    for (const ExtractedField& x : r.extract) {
      int code = 0;
      PCRE2_SIZE offset = 0;
      pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(x.regex.data()), x.regex.size(), 0, &code, &offset, nullptr);
      if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        for (auto& cc : impl->corr)
          for (auto& e : cc.extract) pcre2_code_free(e.code);
        impl->corr.clear();
        return Error(Status::InvalidArgument(r.path + ":" + std::to_string(r.line) + ": vigil: fields: " + x.name +
                                             ": bad regex: " + reinterpret_cast<char*>(msg)));
      }
      c.extract.push_back({x.name, x.from, re});
    }
    const CountCondition& k = r.condition;
    c.early = (k.has_gt || k.has_gte) && !(k.has_lt || k.has_lte || k.has_eq);
    c.rule = std::move(r);
    impl->corr.push_back(std::move(c));
  }
  for (std::uint32_t i = 0; i < impl->corr.size(); ++i) {
    const CorrelationRule& r = impl->corr[i].rule;
    if (!r.id.empty()) impl->corr_by_ref.emplace(r.id, i);
    if (!r.name.empty()) impl->corr_by_ref.emplace(r.name, i);
  }
  for (std::uint32_t i = 0; i < impl->corr.size(); ++i) {
    const CorrelationRule& r = impl->corr[i].rule;
    for (std::uint32_t p = 0; p < r.rules.size(); ++p) {
      auto it = impl->corr_by_ref.find(r.rules[p]);
      if (it == impl->corr_by_ref.end()) continue;
      CompiledCorrelation& child = impl->corr[it->second];
      child.parents.push_back({i, p});
    }
  }
  // Depths (the references were checked for cycles by resolve_correlations).
  for (std::uint32_t pass = 0; pass < impl->corr.size(); ++pass)
    for (CompiledCorrelation& c : impl->corr)
      for (const auto& p : c.parents)
        impl->corr[p.correlation].depth = std::max(impl->corr[p.correlation].depth, c.depth + 1);
  for (const CompiledCorrelation& c : impl->corr) impl->max_depth = std::max(impl->max_depth, c.depth);
  for (auto& s : impl->shards) s->closes.resize(impl->max_depth + 1);
  for (CompiledCorrelation& c : impl->corr) {
    if (c.parents.empty()) continue;
    c.keep_alerts = false;
    for (const auto& p : c.parents)
      if (impl->corr[p.correlation].rule.generate) c.keep_alerts = true;
  }
  return std::unique_ptr<CorrelationEngine>(new CorrelationEngine(std::move(impl)));
}

std::shared_ptr<const RuleBinding> CorrelationEngine::bind(const RuleSet& rules, std::vector<std::string>* warnings) const {
  auto b = std::make_shared<RuleBinding>();
  b->rules = &rules;
  b->per_rule.resize(rules.size());
  std::unordered_map<std::string, std::vector<RuleBinding::Input>> by_ref;
  std::unordered_map<std::string, bool> generate_by_ref;
  for (std::uint32_t i = 0; i < impl_->corr.size(); ++i) {
    const CorrelationRule& r = impl_->corr[i].rule;
    for (std::uint32_t p = 0; p < r.rules.size(); ++p) {
      if (impl_->corr_by_ref.count(r.rules[p])) continue;
      by_ref[r.rules[p]].push_back({i, p});
      generate_by_ref[r.rules[p]] = generate_by_ref[r.rules[p]] || r.generate;
    }
  }
  std::set<std::string> found;
  for (std::size_t k = 0; k < rules.size(); ++k) {
    const SigmaRule& rule = rules.rule(k);
    RuleBinding::PerRule& pr = b->per_rule[k];
    bool referenced = false, generate = false;
    for (const std::string* ref : {&rule.id, &rule.name}) {
      if (ref->empty()) continue;
      auto it = by_ref.find(*ref);
      if (it == by_ref.end()) continue;
      found.insert(*ref);
      referenced = true;
      generate = generate || generate_by_ref[*ref];
      for (const auto& in : it->second) pr.inputs.push_back(in);
    }
    pr.keep_alerts = !referenced || generate;
    std::string why;
    if (!parse_suppression(rule.vigil_extension, &pr.suppress, &why) && warnings)
      warnings->push_back(rule.path + ":" + std::to_string(rule.line) + ": " + why + " (suppression off)");
  }
  if (warnings)
    for (const auto& [ref, inputs] : by_ref)
      if (!found.count(ref))
        warnings->push_back("correlation '" + impl_->corr[inputs[0].correlation].rule.title + "' reads rule '" + ref +
                            "', which did not compile: that part of the correlation never sees events");
  return b;
}

namespace {

// Value of `name` for a rule's event: a parsed field, else one cut out by `vigil: fields`.
bool field_value(const Event& event, const CompiledCorrelation& c, const std::string& name, std::string* out) {
  if (const Field* f = event.fields.find(name)) {
    out->assign(f->value);
    return true;
  }
  for (const auto& x : c.extract) {
    if (x.name != name) continue;
    const Field* src = event.fields.find(x.from);
    if (!src) return false;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(x.code, nullptr);
    const int rc = pcre2_match(x.code, reinterpret_cast<PCRE2_SPTR>(src->value.data()), src->value.size(), 0, 0, md, nullptr);
    bool ok = false;
    if (rc >= 2) {
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      if (ov[2] != PCRE2_UNSET) {
        out->assign(src->value.substr(ov[2], ov[3] - ov[2]));
        ok = true;
      }
    }
    pcre2_match_data_free(md);
    return ok;
  }
  return false;
}

std::string persist_key(const CompiledCorrelation& c, const std::vector<std::string>& values) {
  std::string k = "g/" + (c.rule.id.empty() ? c.rule.name : c.rule.id);
  for (const std::string& v : values) {
    k.push_back(kSep);
    k += v;
  }
  return k;
}

// Names an alert raised early across its revisions: the correlation, the group and the window's
// start when it fired.
std::string revision_key(const CompiledCorrelation& c, const std::vector<std::string>& values, std::int64_t start) {
  std::string k = persist_key(c, values);
  k.push_back(kSep);
  k += std::to_string(start);
  return k;
}

// End (exclusive index) of the window that starts at entries[begin].
std::size_t window_end(const CompiledCorrelation& c, const Group& g, std::size_t begin) {
  const std::int64_t end = g.entries[begin].t + c.rule.timespan_ns;
  const auto at = std::lower_bound(g.entries.begin() + static_cast<std::ptrdiff_t>(begin), g.entries.end(), end,
                                   [](const Entry& e, std::int64_t x) { return e.t < x; });
  return static_cast<std::size_t>(at - g.entries.begin());
}

// The window of the group's chain that holds time t (windows follow one another from the front,
// each starting at the first event past the previous one's end, as they will close): [begin, end).
std::pair<std::size_t, std::size_t> window_holding(const CompiledCorrelation& c, const Group& g, std::int64_t t) {
  std::size_t begin = 0, end = window_end(c, g, 0);
  while (end < g.entries.size() && t >= g.entries[begin].t + c.rule.timespan_ns) {
    begin = end;
    end = window_end(c, g, begin);
  }
  return {begin, end};
}

// The correlation's measure over entries[begin, end): events, distinct values, referenced rules
// seen, or how much of the rule sequence is complete. Events with equal times are taken in the
// order that completes the most of a sequence, since their arrival order says nothing about
// their real one. `decided`: for an `early` condition the time at which it first held over the
// events so far (ties as one), else the last event's time.
std::uint64_t measure_window(const CompiledCorrelation& c, const Group& g, std::size_t begin, std::size_t end,
                             std::int64_t* decided) {
  std::unordered_set<std::string_view> distinct;
  std::set<std::uint32_t> kinds;
  std::uint32_t want = 0;
  std::uint64_t measure = 0;
  bool held = false;
  *decided = g.entries[end - 1].t;
  for (std::size_t i = begin; i < end;) {
    std::size_t j = i;
    while (j < end && g.entries[j].t == g.entries[i].t) ++j;
    switch (c.rule.type) {
      case CorrelationType::kEventCount: measure = j - begin; break;
      case CorrelationType::kValueCount:
        for (std::size_t k = i; k < j; ++k) distinct.insert(g.counted[k]);
        measure = distinct.size();
        break;
      case CorrelationType::kTemporal:
        for (std::size_t k = i; k < j; ++k) kinds.insert(g.entries[k].pos);
        measure = kinds.size();
        break;
      case CorrelationType::kTemporalOrdered:
        for (bool progress = true; progress && want < c.rule.rules.size();) {
          progress = false;
          for (std::size_t k = i; k < j; ++k)
            if (g.entries[k].pos == want) {
              ++want;
              progress = true;
            }
        }
        measure = want;
        break;
    }
    if (c.early && !held && c.rule.condition.holds(measure)) {
      held = true;
      *decided = g.entries[i].t;
    }
    i = j;
  }
  return measure;
}

Alert correlation_alert(const CompiledCorrelation& c, const Group& g, const std::vector<std::string>& values,
                        std::uint64_t count, std::uint64_t measure, std::int64_t first, std::int64_t last,
                        std::int64_t now);
std::int64_t wall_now();

}  // namespace

struct CorrelationEngine::Fired {
  std::uint32_t correlation = 0;
  Shard* shard = nullptr;  // the group, to hide the window's revisions if suppression drops its alert
  std::uint32_t slot = 0, generation = 0;
  std::int64_t start = 0;    // FiredWindow::start
  std::int64_t decided = 0;  // deciding time: the result's time for the correlations that read it
  std::vector<std::string> values;
  std::string tenant, host;
  std::optional<Alert> alert;  // when the correlation keeps alerts
};

// A condition that can only become true as events are added is decided at the event that makes
// it hold, with or without early firing: after t was added to group `id`, the window holding t
// fires if its condition now holds (its suppression and its result for the correlations that
// read it are decided now), or, when `revise` (early firing: its alert went out already), is
// marked for a revision if it fired before. Caller holds the shard lock.
static void check_early(const CompiledCorrelation& c, std::uint32_t ci, Shard& s, std::uint32_t id, std::int64_t t,
                        bool revise, std::vector<CorrelationEngine::Fired>& fires) {
  Group& g = s.slab[id];
  const auto [begin, end] = window_holding(c, g, t);
  const std::int64_t start = g.entries[begin].t;
  for (FiredWindow& f : g.fired) {
    if (f.start < start || f.start >= start + c.rule.timespan_ns) continue;
    if (revise && f.visible && !f.revise) {
      f.revise = true;
      s.revise.emplace_back(id, g.generation);
    }
    return;
  }
  // event_count's measure is the window's size: no walk over its events until it holds (a
  // source far below the threshold costs a binary search per event, not a pass).
  if (c.rule.type == CorrelationType::kEventCount && !c.rule.condition.holds(end - begin)) return;
  std::int64_t decided = 0;
  const std::uint64_t measure = measure_window(c, g, begin, end, &decided);
  if (!c.rule.condition.holds(measure)) return;
  FiredWindow fw;
  fw.start = start;
  fw.reported = end - begin;
  fw.visible = c.keep_alerts;
  g.fired.insert(std::upper_bound(g.fired.begin(), g.fired.end(), start,
                                  [](std::int64_t x, const FiredWindow& y) { return x < y.start; }),
                 fw);
  CorrelationEngine::Fired f;
  f.correlation = ci;
  f.shard = &s;
  f.slot = id;
  f.generation = g.generation;
  f.start = start;
  f.decided = decided;
  f.values = group_key_values(g.key);
  f.tenant = g.tenant;
  f.host = g.host;
  if (c.keep_alerts) {
    f.alert = correlation_alert(c, g, f.values, end - begin, measure, start, g.entries[end - 1].t, wall_now());
    f.alert->revision = Alert::Revision::kFirst;
    f.alert->revision_key = revision_key(c, f.values, start);
  }
  fires.push_back(std::move(f));
}

// Adds one contribution to a group. Caller holds no lock. `fires`: early firing (null: none,
// as when restoring state).
static void contribute(CorrelationEngine::Impl& impl, CorrelationCounters& counters, std::uint32_t ci,
                       std::uint32_t pos, const std::vector<std::string>& values, std::string value, std::int64_t t,
                       std::string_view tenant, std::string_view host,
                       std::vector<CorrelationEngine::Fired>* fires = nullptr) {
  const CompiledCorrelation& c = impl.corr[ci];
  thread_local std::string key;
  encode_group_key(key, values);
  const std::uint64_t h = hash_group(ci, key);
  Shard& s = *impl.shards[h % impl.shards.size()];
  const auto index_hash = static_cast<std::uint32_t>(h >> 32);
  std::lock_guard lock(s.mu);
  std::uint32_t id = s.find(ci, key, index_hash);
  if (id == kNone) {
    id = s.add(ci, key, index_hash);
  } else {
    s.touch(id);
    s.bytes -= s.slab[id].bytes;
  }
  Group& g = s.slab[id];
  const std::int64_t old_front = g.entries.empty() ? kFar : g.entries.front().t;
  const bool counts = c.rule.type == CorrelationType::kValueCount;
  if (counts && value.size() > 15) g.counted_bytes += static_cast<std::uint32_t>(value.size());
  if (g.entries.empty() || g.entries.back().t <= t) {
    g.entries.push_back(Entry{t, pos});
    if (counts) g.counted.push_back(std::move(value));
  } else {
    const auto at = std::upper_bound(g.entries.begin(), g.entries.end(), t,
                                     [](std::int64_t x, const Entry& y) { return x < y.t; });
    const auto offset = at - g.entries.begin();
    g.entries.insert(at, Entry{t, pos});
    if (counts) g.counted.insert(g.counted.begin() + offset, std::move(value));
  }
  if (t < old_front) s.closes[c.depth].push(CloseItem{t + c.rule.timespan_ns, id, g.generation});
  if (tenant.size()) g.tenant.assign(tenant);
  if (host.size()) g.host.assign(host);
  g.bytes = group_bytes(g);
  s.bytes += g.bytes;
  s.mark_dirty(id);
  counters.events.fetch_add(1, std::memory_order_relaxed);
  if (fires && c.early) check_early(c, ci, s, id, t, impl.options.early_firing, *fires);
  while (s.bytes > impl.shard_cap && s.live > 1) {
    const std::uint32_t victim = s.lru_oldest;
    if (victim == id) break;
    s.remove(victim);
    counters.evicted_groups.fetch_add(1, std::memory_order_relaxed);
  }
}

void CorrelationEngine::batch_begin() { impl_->my_progress().busy.store(true, std::memory_order_release); }

// Moves the watermark's inputs forward to an event's time; true when the event is late.
bool CorrelationEngine::note_time(std::int64_t time_ns, bool ordered) {
  Impl& impl = *impl_;
  // Watermark: the latest event time minus the lateness.
  std::int64_t seen = max_time_.load(std::memory_order_relaxed);
  while (time_ns > seen && !max_time_.compare_exchange_weak(seen, time_ns, std::memory_order_relaxed)) {
  }
  if (time_ns > seen) impl.watermark_dirty.store(true, std::memory_order_relaxed);
  Impl::Progress& mine = impl.my_progress();
  if (time_ns > mine.max_t.load(std::memory_order_relaxed)) mine.max_t.store(time_ns, std::memory_order_relaxed);
  // In arrival order, the latest time before this event: the stream alone decides, never where
  // batches happen to end (and a window closed at a batch end, watermark <= that time minus the
  // lateness, cannot be missing an event that is not late).
  if (ordered) return seen > 0 && time_ns < seen - impl.options.allowed_lateness_ns;
  // No lateness before the first batch end: the first events seen may not be the earliest.
  const std::int64_t base = impl.progress_t.load(std::memory_order_relaxed);
  return base > 0 && time_ns < base - impl.options.allowed_lateness_ns;
}

void CorrelationEngine::apply(const std::vector<CorrelationInput>& inputs, std::vector<Alert>& out) {
  Impl& impl = *impl_;
  thread_local std::vector<Fired> fires;
  fires.clear();
  bool late = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const CorrelationInput& in = inputs[i];
    if (i == 0 || in.event != inputs[i - 1].event) {
      late = note_time(in.time_ns, /*ordered=*/true);
      // Counted once per event that would have fed a window, as on_event() counts.
      if (late && in.correlation != CorrelationInput::kTimeOnly)
        counters_.late_events.fetch_add(1, std::memory_order_relaxed);
    }
    if (late || in.correlation == CorrelationInput::kTimeOnly) continue;
    contribute(impl, counters_, in.correlation, in.position, in.values, in.value, in.time_ns, {}, in.host, &fires);
  }
  if (!fires.empty()) release(fires, out);
}

void CorrelationEngine::on_event(const RuleBinding& binding, const Event& event,
                                 const std::vector<std::uint32_t>& matched_rules, std::int64_t time_ns,
                                 std::vector<Alert>& alerts, std::size_t first_new,
                                 std::vector<CorrelationInput>* deferred) {
  Impl& impl = *impl_;
  // Deferred: time and lateness are the business of apply(), in the order it is called.
  const bool late = deferred ? false : note_time(time_ns, impl.options.ordered_input);
  bool counted_late = false;
  std::uint64_t event_no = 0;
  std::size_t deferred_before = 0;
  if (deferred) {
    event_no = deferred->empty() ? 1 : deferred->back().event + 1;
    deferred_before = deferred->size();
  }
  thread_local std::vector<Fired> fires;
  fires.clear();
  for (std::uint32_t r : matched_rules) {
    if (r >= binding.per_rule.size()) continue;
    const RuleBinding::PerRule& pr = binding.per_rule[r];
    for (const RuleBinding::Input& in : pr.inputs) {
      if (late) {
        if (!counted_late) counters_.late_events.fetch_add(1, std::memory_order_relaxed);
        counted_late = true;
        break;
      }
      const CompiledCorrelation& c = impl.corr[in.correlation];
      thread_local std::vector<std::string> values;
      values.resize(c.group_fields[in.position].size());
      std::size_t filled = 0;
      bool complete = true;
      for (const std::string& f : c.group_fields[in.position]) {
        if (!field_value(event, c, f, &values[filled])) {
          complete = false;
          break;
        }
        ++filled;
      }
      std::string value;
      if (complete && c.rule.type == CorrelationType::kValueCount)
        complete = field_value(event, c, c.value_fields[in.position], &value);
      if (!complete) {
        counters_.missing_group_field.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (deferred) {
        CorrelationInput d;
        d.event = event_no;
        d.correlation = in.correlation;
        d.position = in.position;
        d.values = values;
        d.value = std::move(value);
        d.time_ns = time_ns;
        d.host.assign(event.host);
        deferred->push_back(std::move(d));
        continue;
      }
      contribute(impl, counters_, in.correlation, in.position, values, std::move(value), time_ns, {}, event.host,
                 &fires);
    }
  }
  if (deferred && deferred->size() == deferred_before) {
    // The event feeds no window but still moves event time forward, as it would undeferred.
    CorrelationInput d;
    d.event = event_no;
    d.time_ns = time_ns;
    deferred->push_back(std::move(d));
  }
  // generate: false and suppression of the event's own alerts.
  for (std::size_t i = first_new; i < alerts.size();) {
    const Alert& a = alerts[i];
    const RuleBinding::PerRule* pr = nullptr;
    for (std::uint32_t r : matched_rules)
      if (r < binding.per_rule.size() && binding.rules->rule(r).id == a.rule_id) pr = &binding.per_rule[r];
    if (!pr) {
      ++i;
      continue;
    }
    if (!pr->keep_alerts) {
      counters_.base_alerts_withheld.fetch_add(1, std::memory_order_relaxed);
      alerts.erase(alerts.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (pr->suppress.for_ns > 0) {
      std::vector<AlertField> key_fields;
      for (const std::string& f : pr->suppress.by) {
        const Field* v = event.fields.find(f);
        key_fields.push_back(AlertField{f, v ? std::string(v->value) : std::string()});
      }
      if (!admit(a, pr->suppress.for_ns, std::move(key_fields), time_ns)) {
        alerts.erase(alerts.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
    }
    ++i;
  }
  // The correlations this event decided, after the event's own alerts.
  if (!fires.empty()) release(fires, alerts);
}

bool CorrelationEngine::admit(const Alert& a, std::int64_t for_ns, std::vector<AlertField> key_fields,
                              std::int64_t time_ns) {
  Impl& impl = *impl_;
  {
    {
      std::string key = "s/" + a.rule_id;
      for (const AlertField& f : key_fields) {
        key.push_back(kSep);
        key += f.value;
      }
      Shard& s = impl.shard_of(key);
      std::lock_guard lock(s.mu);
      auto [it, inserted] = s.suppress.try_emplace(key);
      SuppressState& st = it->second;
      if (!inserted && time_ns < st.until && time_ns >= st.first) {
        st.repeats++;
        st.last = std::max(st.last, time_ns);
        s.dirty_suppress.insert(key);
        counters_.suppressed.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      if (!inserted && st.repeats > 0 && time_ns >= st.until) {
        // The period is over whether or not advance() has ended it yet. advance() runs at batch
        // ends, which fall anywhere in a stream (and elsewhere after a crash replays it from a
        // checkpoint): deciding here makes this alert open the next period either way, so that
        // the alerts do not depend on where batches end.
        s.ended.push_back(std::move(st));
        st = SuppressState{};
      }
      if (inserted || st.repeats == 0) {
        st = SuppressState{};
        st.first = time_ns;
        st.last = time_ns;
        st.until = time_ns + for_ns;
        st.rule_id = a.rule_id;
        st.title = a.rule_title;
        st.path = a.rule_path;
        st.level = to_string(a.level);
        st.tags = a.tags;
        st.attack_tactics = a.attack_tactics;
        st.attack_techniques = a.attack_techniques;
        st.tenant = a.tenant;
        st.host = a.host;
        st.key_fields = std::move(key_fields);
        s.suppress_ends.push(HeapItem{st.until, key});
        s.dirty_suppress.insert(key);
      }
    }
  }
  return true;
}

namespace {

// Evaluates and removes the window starting at g.entries.front(). Returns true when the
// condition holds; fills the event count, measure, first and last times, and the deciding time
// (measure_window).
bool close_window(const CompiledCorrelation& c, Group& g, std::uint64_t* count, std::int64_t* first,
                  std::int64_t* last, std::uint64_t* measured, std::int64_t* decided) {
  const std::size_t n = window_end(c, g, 0);
  const std::uint64_t measure = measure_window(c, g, 0, n, decided);
  *count = n;
  *measured = measure;
  *first = g.entries.front().t;
  *last = g.entries[n - 1].t;
  g.entries.erase(g.entries.begin(), g.entries.begin() + static_cast<std::ptrdiff_t>(n));
  if (!g.counted.empty()) {
    for (std::size_t i = 0; i < n; ++i)
      if (g.counted[i].size() > 15) g.counted_bytes -= static_cast<std::uint32_t>(g.counted[i].size());
    g.counted.erase(g.counted.begin(), g.counted.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return c.rule.condition.holds(measure);
}

Alert correlation_alert(const CompiledCorrelation& c, const Group& g, const std::vector<std::string>& values,
                        std::uint64_t count, std::uint64_t measure, std::int64_t first, std::int64_t last,
                        std::int64_t now) {
  Alert a;
  a.received_unix_ns = now;
  a.event_unix_ns = last;
  a.event_time = window_time(last);
  a.rule_id = c.rule.id;
  a.rule_title = c.rule.title;
  a.rule_path = c.rule.path;
  if (!parse_alert_level(c.rule.level, &a.level)) a.level = AlertLevel::kMedium;
  a.tags = c.rule.tags;
  a.attack_tactics = c.rule.attack.tactics;
  a.attack_techniques = c.rule.attack.techniques;
  a.tenant = g.tenant;
  a.host = g.host;
  a.format = "correlation";
  std::string groups;
  for (std::size_t i = 0; i < c.rule.group_by.size() && i < values.size(); ++i) {
    a.matched.push_back(AlertField{c.rule.group_by[i], values[i]});
    a.fields.push_back(AlertField{c.rule.group_by[i], values[i]});
    groups += (groups.empty() ? "" : ", ") + c.rule.group_by[i] + "=" + values[i];
  }
  a.fields.push_back(AlertField{"correlation_type", to_string(c.rule.type)});
  a.fields.push_back(AlertField{"event_count", std::to_string(count)});
  if (c.rule.type == CorrelationType::kValueCount)
    a.fields.push_back(AlertField{"distinct_" + c.rule.value_field, std::to_string(measure)});
  else if (c.rule.type != CorrelationType::kEventCount)
    a.fields.push_back(AlertField{"rules_matched", std::to_string(measure)});
  a.fields.push_back(AlertField{"window_start", window_time(first)});
  a.fields.push_back(AlertField{"window_end", window_time(last)});
  a.raw = "correlation " + std::string(to_string(c.rule.type)) + " '" + c.rule.title + "': " + std::to_string(count) +
          " events" + (groups.empty() ? "" : " for " + groups) + " from " + window_time(first) + " to " +
          window_time(last);
  return a;
}

Alert summary_alert(const SuppressState& st, std::int64_t now) {
  Alert a;
  a.received_unix_ns = now;
  a.event_unix_ns = st.last;
  a.event_time = window_time(st.last);
  a.rule_id = st.rule_id;
  a.rule_title = st.title + " (repeats suppressed)";
  a.rule_path = st.path;
  parse_alert_level(st.level, &a.level);
  a.tags = st.tags;
  a.attack_tactics = st.attack_tactics;
  a.attack_techniques = st.attack_techniques;
  a.tenant = st.tenant;
  a.host = st.host;
  a.format = "suppression";
  a.matched = st.key_fields;
  a.fields = st.key_fields;
  a.fields.push_back(AlertField{"suppressed", std::to_string(st.repeats)});
  a.fields.push_back(AlertField{"suppressed_from", window_time(st.first)});
  a.fields.push_back(AlertField{"suppressed_to", window_time(st.last)});
  a.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(st.repeats, 0xFFFFFFFFu));
  a.raw = "suppressed " + std::to_string(st.repeats) + " repeats of '" + st.title + "' between " +
          window_time(st.first) + " and " + window_time(st.last);
  return a;
}

std::int64_t wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

// A correlation's result as an event of the correlations that read it (at time t); it comes
// from inside, so lateness does not apply. `fires`: early firing of those (null: none).
static void feed_parents(CorrelationEngine::Impl& impl, CorrelationCounters& counters, std::uint32_t child_ci,
                         const std::vector<std::string>& child_values, std::int64_t t, const std::string& tenant,
                         const std::string& host, std::vector<CorrelationEngine::Fired>* fires) {
  const CompiledCorrelation& child = impl.corr[child_ci];
  for (const RuleBinding::Input& p : child.parents) {
    const CompiledCorrelation& parent = impl.corr[p.correlation];
    std::vector<std::string> values;
    bool complete = true;
    for (const std::string& field : parent.group_fields[p.position]) {
      auto at = std::find(child.rule.group_by.begin(), child.rule.group_by.end(), field);
      if (at == child.rule.group_by.end()) {
        complete = false;
        break;
      }
      values.push_back(child_values[static_cast<std::size_t>(at - child.rule.group_by.begin())]);
    }
    std::string value;
    if (complete && parent.rule.type == CorrelationType::kValueCount) {
      auto at = std::find(child.rule.group_by.begin(), child.rule.group_by.end(), parent.value_fields[p.position]);
      if (at == child.rule.group_by.end()) complete = false;
      else value = child_values[static_cast<std::size_t>(at - child.rule.group_by.begin())];
    }
    if (!complete) {
      counters.missing_group_field.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    contribute(impl, counters, p.correlation, p.position, values, std::move(value), t, tenant, host, fires);
  }
}

void CorrelationEngine::release(std::vector<Fired>& fires, std::vector<Alert>& out) {
  Impl& impl = *impl_;
  // By index: feeding a parent may append to `fires`.
  for (std::size_t i = 0; i < fires.size(); ++i) {
    Fired f = std::move(fires[i]);
    const CompiledCorrelation& c = impl.corr[f.correlation];
    const bool emit = impl.options.early_firing;  // else the close emits it, with its final state
    if (emit) {
      counters_.alerts.fetch_add(1, std::memory_order_relaxed);
      counters_.early_alerts.fetch_add(1, std::memory_order_relaxed);
    }
    if (f.alert) {
      bool pass = true;
      if (c.rule.suppress.for_ns > 0) {
        std::vector<AlertField> key_fields;
        for (const std::string& name : c.rule.suppress.by) {
          std::string v;
          for (const AlertField& m : f.alert->matched)
            if (m.name == name) v = m.value;
          key_fields.push_back(AlertField{name, v});
        }
        pass = admit(*f.alert, c.rule.suppress.for_ns, std::move(key_fields), f.decided);
      }
      if (pass) {
        if (emit) out.push_back(std::move(*f.alert));
      } else {
        // A suppressed repeat: its window's revisions would name an alert that was never stored.
        std::lock_guard lock(f.shard->mu);
        Group& g = f.shard->slab[f.slot];
        if (g.generation == f.generation)
          for (FiredWindow& w : g.fired)
            if (w.start == f.start) w.visible = false;
      }
    }
    feed_parents(impl, counters_, f.correlation, f.values, f.decided, f.tenant, f.host, &fires);
  }
  fires.clear();
}

void CorrelationEngine::advance(std::vector<Alert>& out, Flush flush) {
  Impl& impl = *impl_;
  const std::int64_t now_wall = wall_now();
  {
    impl.my_progress().busy.store(false, std::memory_order_release);
    std::int64_t slowest = max_time_.load(std::memory_order_relaxed);
    for (Impl::Progress& p : impl.progress) {
      if (!p.busy.load(std::memory_order_acquire)) continue;
      const std::int64_t t = p.max_t.load(std::memory_order_relaxed);
      slowest = std::min(slowest, t == 0 ? impl.progress_t.load(std::memory_order_relaxed) : t);
    }
    // Never backwards: a thread waking up after a pause does not reopen closed windows.
    std::int64_t cur = impl.progress_t.load(std::memory_order_relaxed);
    while (slowest > cur && !impl.progress_t.compare_exchange_weak(cur, slowest, std::memory_order_relaxed)) {
    }
  }
  const std::int64_t seen = impl.progress_t.load(std::memory_order_relaxed);
  // kIdle: the stream is quiet, so the windows the latest event time has passed are complete.
  const std::int64_t watermark = flush == Flush::kAll    ? kFar * 2
                                 : flush == Flush::kIdle ? max_time_.load(std::memory_order_relaxed)
                                                         : seen - impl.options.allowed_lateness_ns;
  const std::int64_t suppress_watermark = flush == Flush::kNone ? watermark : kFar * 2;
  const std::int64_t now = now_wall;
  // Revisions of the alerts raised early whose windows gained events: one per window and call
  // (a batch in the daemon), not one per event, and only when the count changed.
  for (auto& sp : impl.shards) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    for (const auto& [id, generation] : s.revise) {
      Group& g = s.slab[id];
      if (g.generation != generation || g.entries.empty()) continue;
      const CompiledCorrelation& c = impl.corr[g.correlation];
      for (FiredWindow& f : g.fired) {
        if (!f.revise) continue;
        f.revise = false;
        if (!f.visible) continue;
        const auto [begin, end] = window_holding(c, g, f.start);
        if (end - begin == f.reported) continue;
        f.reported = end - begin;
        std::int64_t decided = 0;
        const std::uint64_t measure = measure_window(c, g, begin, end, &decided);
        const std::vector<std::string> values = group_key_values(g.key);
        Alert a = correlation_alert(c, g, values, end - begin, measure, g.entries[begin].t, g.entries[end - 1].t, now);
        a.revision = Alert::Revision::kUpdate;
        a.revision_key = revision_key(c, values, f.start);
        a.revision_seq = ++f.seq;
        counters_.revisions.fetch_add(1, std::memory_order_relaxed);
        out.push_back(std::move(a));
      }
    }
    s.revise.clear();
  }
  struct Closed {
    std::uint32_t correlation;
    std::vector<std::string> values;
    std::int64_t t;
    std::string tenant, host;
  };
  struct Emitted {
    std::uint32_t correlation;
    Alert alert;
    std::int64_t decided;
  };
  std::vector<Fired> fires;  // early firing of parents fed by windows closed here
  // Inner correlations close first, so that what they fire reaches the windows of the ones
  // that read them before those close.
  for (std::uint32_t depth = 0; depth <= impl.max_depth; ++depth) {
    std::vector<Closed> fired;
    std::vector<Emitted> emitted;
    for (auto& sp : impl.shards) {
      Shard& s = *sp;
      std::lock_guard lock(s.mu);
      CloseHeap& closes = s.closes[depth];
      // kIdle: windows still open past the latest event time, whose condition does not hold yet.
      std::vector<CloseItem> still_open;
      while (!closes.empty() && (closes.top().at <= watermark || flush == Flush::kIdle)) {
        const CloseItem item = closes.top();
        closes.pop();
        if (s.slab[item.id].generation != item.generation) continue;  // its group is gone
        Group& g = s.slab[item.id];
        const std::uint32_t ci = g.correlation;
        const CompiledCorrelation& c = impl.corr[ci];
        if (g.entries.empty() || g.entries.front().t + c.rule.timespan_ns != item.at) continue;  // stale
        if (item.at > watermark) {  // kIdle, open window: it fires now only if it already holds
          std::int64_t decided_so_far = 0;
          if (!c.rule.condition.holds(measure_window(c, g, 0, window_end(c, g, 0), &decided_so_far))) {
            still_open.push_back(item);
            continue;
          }
        }
        std::uint64_t count, measure;
        std::int64_t first, last, decided;
        counters_.windows_closed.fetch_add(1, std::memory_order_relaxed);
        // The window that fired early, if this is it: its start when it fired lies inside.
        const std::int64_t start = g.entries.front().t;
        auto early = std::find_if(g.fired.begin(), g.fired.end(), [&](const FiredWindow& f) {
          return f.start >= start && f.start < start + c.rule.timespan_ns;
        });
        const bool holds = close_window(c, g, &count, &first, &last, &measure, &decided);
        if (early != g.fired.end() && !impl.options.early_firing) {
          // Decided at its deciding event (suppression and the result for the parents too); its
          // one alert goes out now, with the window's final state.
          counters_.alerts.fetch_add(1, std::memory_order_relaxed);
          if (early->visible) {
            std::vector<std::string> values = group_key_values(g.key);
            out.push_back(correlation_alert(c, g, values, count, measure, first, last, now));
          }
          g.fired.erase(early);
        } else if (early != g.fired.end()) {
          // Its alert and its result for the parents went out when it fired: the final state now.
          if (early->visible) {
            std::vector<std::string> values = group_key_values(g.key);
            Alert a = correlation_alert(c, g, values, count, measure, first, last, now);
            a.revision = Alert::Revision::kFinal;
            a.revision_key = revision_key(c, values, early->start);
            a.revision_seq = ++early->seq;
            counters_.revisions.fetch_add(1, std::memory_order_relaxed);
            out.push_back(std::move(a));
          }
          g.fired.erase(early);
        } else if (holds) {
          counters_.alerts.fetch_add(1, std::memory_order_relaxed);
          std::vector<std::string> values = group_key_values(g.key);
          if (c.keep_alerts)
            emitted.push_back({ci, correlation_alert(c, g, values, count, measure, first, last, now), decided});
          if (!c.parents.empty()) fired.push_back(Closed{ci, std::move(values), decided, g.tenant, g.host});
        }
        if (g.entries.empty()) {
          s.remove(item.id);
        } else {
          s.mark_dirty(item.id);
          s.bytes -= g.bytes;
          g.bytes = group_bytes(g);
          s.bytes += g.bytes;
          closes.push(CloseItem{g.entries.front().t + c.rule.timespan_ns, item.id, item.generation});
        }
      }
      for (const CloseItem& item : still_open) closes.push(item);
      if (depth != impl.max_depth) continue;
      while (!s.suppress_ends.empty() && s.suppress_ends.top().at <= suppress_watermark) {
        HeapItem item = s.suppress_ends.top();
        s.suppress_ends.pop();
        auto it = s.suppress.find(item.key);
        if (it == s.suppress.end() || it->second.until != item.at) continue;
        if (it->second.repeats > 0) {
          counters_.suppression_summaries.fetch_add(1, std::memory_order_relaxed);
          out.push_back(summary_alert(it->second, now));
        }
        s.suppress.erase(it);
        s.dirty_suppress.insert(item.key);
      }
    }
    // `vigil: suppress` of correlation alerts, keyed by group-by values (after the shard locks:
    // the suppression state may live in another shard). The period starts at the deciding
    // time, as it does for an alert raised early.
    for (Emitted& e : emitted) {
      const CompiledCorrelation& c = impl.corr[e.correlation];
      if (c.rule.suppress.for_ns > 0) {
        std::vector<AlertField> key_fields;
        for (const std::string& f : c.rule.suppress.by) {
          std::string v;
          for (const AlertField& m : e.alert.matched)
            if (m.name == f) v = m.value;
          key_fields.push_back(AlertField{f, v});
        }
        if (!admit(e.alert, c.rule.suppress.for_ns, std::move(key_fields), e.decided)) continue;
      }
      out.push_back(std::move(e.alert));
    }
    // A closed correlation's result feeds the correlations that read it, at its deciding time.
    for (Closed& f : fired) feed_parents(impl, counters_, f.correlation, f.values, f.t, f.tenant, f.host, &fires);
    if (!fires.empty()) release(fires, out);
  }
  // Last, so that no ended period waits for a later call (its summary would otherwise sit in
  // memory across a commit of the state, and be lost by a crash).
  for (auto& sp : impl.shards) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    for (const SuppressState& st : s.ended) {
      counters_.suppression_summaries.fetch_add(1, std::memory_order_relaxed);
      out.push_back(summary_alert(st, now));
    }
    s.ended.clear();
  }
}

std::size_t CorrelationEngine::groups() const {
  std::size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard lock(s->mu);
    n += s->live;
  }
  return n;
}

std::size_t CorrelationEngine::memory_bytes() const {
  std::size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard lock(s->mu);
    n += s->bytes;
  }
  return n;
}

void CorrelationEngine::collect_changes(
    const std::function<void(const std::string& key, const std::string* value)>& out, bool everything) {
  Impl& impl = *impl_;
  std::lock_guard saved_lock(impl.unsaved_mu);
  // Collected into the unsaved records (a later record of a key replaces the earlier one), which
  // all go out at the end.
  auto sink = [&](const std::string& key, const std::string* v) {
    impl.unsaved[key] = v ? std::optional<std::string>(*v) : std::nullopt;
  };
  std::string value;
  for (auto& sp : impl.shards) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    if (everything)
      for (std::uint32_t id = 0; id < s.slab.size(); ++id)
        if (s.slab[id].correlation != kNone) s.mark_dirty(id);
    if (everything)
      for (const auto& kv : s.suppress) s.dirty_suppress.insert(kv.first);
    // Removed groups first: a key removed and then opened again is written by the loop below.
    for (const auto& [ci, key] : s.dropped) {
      if (s.find(ci, key, static_cast<std::uint32_t>(hash_group(ci, key) >> 32)) != kNone) continue;
      // The stored key names the correlation by id, so it survives rule changes.
      sink(persist_key(impl.corr[ci], group_key_values(key)), nullptr);
    }
    s.dropped.clear();
    for (const auto& [id, generation] : s.dirty) {
      Group& g = s.slab[id];
      if (g.generation != generation || !g.dirty) continue;  // removed since, or already written
      g.dirty = false;
      const std::vector<std::string> values = group_key_values(g.key);
      const bool counts = !g.counted.empty();
      value.clear();
      put_u32(value, static_cast<std::uint32_t>(values.size()));
      for (const std::string& v : values) put_str(value, v);
      put_str(value, g.tenant);
      put_str(value, g.host);
      put_u32(value, static_cast<std::uint32_t>(g.entries.size()));
      for (std::size_t i = 0; i < g.entries.size(); ++i) {
        put_i64(value, g.entries[i].t);
        put_u32(value, g.entries[i].pos);
        put_str(value, counts ? std::string_view(g.counted[i]) : std::string_view());
      }
      // Windows that fired early (a later field: records without it have none), so that a
      // restart neither raises them again at close nor loses their revisions.
      put_u32(value, static_cast<std::uint32_t>(g.fired.size()));
      for (const FiredWindow& f : g.fired) {
        put_i64(value, f.start);
        put_i64(value, static_cast<std::int64_t>(f.reported));
        put_u32(value, f.visible ? 1 : 0);
        put_u32(value, f.seq);
      }
      sink(persist_key(impl.corr[g.correlation], values), &value);
    }
    s.dirty.clear();
    for (const std::string& key : s.dirty_suppress) {
      auto it = s.suppress.find(key);
      if (it == s.suppress.end()) {
        sink(key, nullptr);
        continue;
      }
      const SuppressState& st = it->second;
      value.clear();
      put_i64(value, st.until);
      put_i64(value, st.first);
      put_i64(value, st.last);
      put_i64(value, static_cast<std::int64_t>(st.repeats));
      for (const std::string* f : {&st.rule_id, &st.title, &st.path, &st.level, &st.tenant, &st.host}) put_str(value, *f);
      put_u32(value, static_cast<std::uint32_t>(st.tags.size()));
      for (const std::string& t : st.tags) put_str(value, t);
      put_u32(value, static_cast<std::uint32_t>(st.key_fields.size()));
      for (const AlertField& f : st.key_fields) {
        put_str(value, f.name);
        put_str(value, f.value);
      }
      for (const auto* list : {&st.attack_tactics, &st.attack_techniques}) {
        put_u32(value, static_cast<std::uint32_t>(list->size()));
        for (const std::string& t : *list) put_str(value, t);
      }
      sink(key, &value);
    }
    s.dirty_suppress.clear();
  }
  if (everything || impl.watermark_dirty.exchange(false)) {
    value.clear();
    put_i64(value, max_time_.load());
    sink("watermark", &value);
  }
  for (const auto& [key, v] : impl.unsaved) out(key, v ? &*v : nullptr);
}

void CorrelationEngine::changes_saved() {
  std::lock_guard lock(impl_->unsaved_mu);
  impl_->unsaved.clear();
}

Status CorrelationEngine::restore(std::string_view key, std::string_view value) {
  Impl& impl = *impl_;
  Reader r{value};
  if (key == "watermark") {
    std::int64_t t = r.i64();
    if (!r.ok) return Status::ParseError("correlation state: bad watermark");
    std::int64_t seen = max_time_.load();
    while (t > seen && !max_time_.compare_exchange_weak(seen, t)) {
    }
    std::int64_t cur = impl.progress_t.load();
    while (t > cur && !impl.progress_t.compare_exchange_weak(cur, t)) {
    }
    return Status::Ok();
  }
  if (key.substr(0, 2) == "s/") {
    SuppressState st;
    st.until = r.i64();
    st.first = r.i64();
    st.last = r.i64();
    st.repeats = static_cast<std::uint64_t>(r.i64());
    for (std::string* f : {&st.rule_id, &st.title, &st.path, &st.level, &st.tenant, &st.host}) *f = r.str();
    for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) st.tags.push_back(r.str());
    for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) {
      AlertField f;
      f.name = r.str();
      f.value = r.str();
      st.key_fields.push_back(std::move(f));
    }
    // Records saved before alerts carried ATT&CK views end here.
    if (r.ok && !r.in.empty())
      for (auto* list : {&st.attack_tactics, &st.attack_techniques})
        for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) list->push_back(r.str());
    if (!r.ok) return Status::ParseError("correlation state: bad suppression record");
    Shard& s = impl.shard_of(key);
    std::lock_guard lock(s.mu);
    s.suppress_ends.push(HeapItem{st.until, std::string(key)});
    s.suppress[std::string(key)] = std::move(st);
    return Status::Ok();
  }
  if (key.substr(0, 2) != "g/") return Status::Ok();  // a later version's record: ignored
  std::string_view rest = key.substr(2);
  const std::string_view ref = rest.substr(0, rest.find(kSep));
  auto c = impl.corr_by_ref.find(std::string(ref));
  if (c == impl.corr_by_ref.end()) return Status::Ok();  // its correlation is gone
  const std::uint32_t ci = c->second;
  std::vector<std::string> values;
  for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) values.push_back(r.str());
  std::string tenant = r.str(), host = r.str();
  struct Restored {
    std::int64_t t;
    std::uint32_t pos;
    std::string value;
  };
  std::vector<Restored> entries;
  for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) {
    Restored e;
    e.t = r.i64();
    e.pos = r.u32();
    e.value = r.str();
    entries.push_back(std::move(e));
  }
  std::vector<FiredWindow> fired;
  if (r.ok && !r.in.empty()) {
    for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) {
      FiredWindow f;
      f.start = r.i64();
      f.reported = static_cast<std::uint64_t>(r.i64());
      f.visible = r.u32() != 0;
      f.seq = r.u32();
      fired.push_back(f);
    }
  }
  if (!r.ok) return Status::ParseError("correlation state: bad window record");
  if (values.size() != impl.corr[ci].rule.group_by.size()) return Status::Ok();  // group-by changed
  for (Restored& e : entries) {
    if (e.pos >= impl.corr[ci].rule.rules.size()) continue;
    contribute(impl, counters_, ci, e.pos, values, std::move(e.value), e.t, tenant, host);
    counters_.events.fetch_sub(1, std::memory_order_relaxed);  // restored, not new
  }
  if (!fired.empty()) {
    thread_local std::string key;
    encode_group_key(key, values);
    const std::uint64_t h = hash_group(ci, key);
    Shard& s = *impl.shards[h % impl.shards.size()];
    std::lock_guard lock(s.mu);
    const std::uint32_t id = s.find(ci, key, static_cast<std::uint32_t>(h >> 32));
    if (id != kNone) s.slab[id].fired = std::move(fired);
  }
  return Status::Ok();
}

std::int64_t event_time_ns(const Event& event, std::int64_t reference_ns) {
  if (event.time_unix_ns != 0) return event.time_unix_ns;
  std::int64_t ns = 0;
  if (bsd_timestamp_ns(event.time_text, reference_ns, &ns)) return ns;
  return reference_ns;
}

}  // namespace vigil::rules
