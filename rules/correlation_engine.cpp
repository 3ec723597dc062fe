#include "rules/correlation_engine.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <ctime>
#include <list>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/ascii.h"

namespace vigil::rules {

namespace {

constexpr std::int64_t kFar = std::numeric_limits<std::int64_t>::max() / 4;
constexpr char kSep = '\x1f';

struct Entry {
  std::int64_t t = 0;
  std::uint32_t pos = 0;
  std::string value;  // value_count: the counted field's value
};

struct Group {
  std::vector<Entry> entries;  // sorted by t
  std::vector<std::string> values;  // group-by values, in group-by order
  std::string tenant, host;    // of the latest contributing event
  std::list<const std::string*>::iterator lru;
  std::size_t bytes = 0;
  std::size_t value_bytes = 0;  // group-by values and long counted values
  bool dirty = false;           // listed in Shard::dirty since the last collect_changes
};

// A suppression period of one rule and key.
struct SuppressState {
  std::int64_t until = 0, first = 0, last = 0;
  std::uint64_t repeats = 0;
  std::string rule_id, title, path, level, tenant, host;
  std::vector<std::string> tags;
  std::vector<AlertField> key_fields;
};

struct HeapItem {
  std::int64_t at;
  std::string key;
  bool operator>(const HeapItem& o) const { return at > o.at; }
};
using MinHeap = std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>>;

struct Shard {
  std::mutex mu;
  std::unordered_map<std::string, Group> groups;
  std::list<const std::string*> lru;  // front = most recent
  std::vector<MinHeap> closes;  // window ends, by the correlation's depth (chains close inner first)
  std::unordered_map<std::string, SuppressState> suppress;
  MinHeap suppress_ends;
  std::vector<std::string> dirty;  // group keys changed since collect_changes (may repeat)
  std::unordered_set<std::string> dirty_suppress;
  std::size_t bytes = 0;
};

// Approximate heap use of a group: its map node and key, its LRU node, its values and entries
// (values of value_count longer than the small-string buffer count their bytes too).
std::size_t group_bytes(const std::string& key, const Group& g) {
  std::size_t b = key.size() + sizeof(Group) + 96 + g.value_bytes;
  b += g.entries.capacity() * sizeof(Entry);
  return b;
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

}  // namespace

struct CompiledCorrelation {
  CorrelationRule rule;
  // Per referenced rule (position): the event field read for each group-by name, and for
  // value_count's field (aliases resolved for that rule's name or id).
  std::vector<std::vector<std::string>> group_fields;
  std::vector<std::string> value_fields;
  std::vector<RuleBinding::Input> parents;  // correlations that read this one
  std::uint32_t depth = 0;                  // 0: reads detection rules only; else 1 + its deepest input
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

}  // namespace

// Adds one contribution to a group. Caller holds no lock.
static void contribute(CorrelationEngine::Impl& impl, CorrelationCounters& counters, std::uint32_t ci,
                       std::uint32_t pos, const std::vector<std::string>& values, std::string value, std::int64_t t,
                       std::string_view tenant, std::string_view host) {
  const CompiledCorrelation& c = impl.corr[ci];
  thread_local std::string key;
  key.clear();
  key.append(reinterpret_cast<const char*>(&ci), 4);
  for (const std::string& v : values) {
    key += v;
    key.push_back(kSep);
  }
  Shard& s = impl.shard_of(key);
  std::lock_guard lock(s.mu);
  auto it = s.groups.find(key);
  const bool inserted = it == s.groups.end();
  if (inserted) it = s.groups.emplace(key, Group{}).first;
  Group& g = it->second;
  if (inserted) {
    g.values = values;
    for (const std::string& v : values) g.value_bytes += v.size() + sizeof(std::string);
    s.lru.push_front(&it->first);
    g.lru = s.lru.begin();
  } else {
    s.lru.splice(s.lru.begin(), s.lru, g.lru);
    s.bytes -= g.bytes;
  }
  const std::int64_t old_front = g.entries.empty() ? kFar : g.entries.front().t;
  if (value.size() > 15) g.value_bytes += value.size();
  Entry e{t, pos, std::move(value)};
  if (g.entries.empty() || g.entries.back().t <= t) g.entries.push_back(std::move(e));
  else g.entries.insert(std::upper_bound(g.entries.begin(), g.entries.end(), t,
                                         [](std::int64_t x, const Entry& y) { return x < y.t; }),
                        std::move(e));
  if (t < old_front) s.closes[c.depth].push(HeapItem{t + c.rule.timespan_ns, key});
  if (tenant.size()) g.tenant.assign(tenant);
  if (host.size()) g.host.assign(host);
  g.bytes = group_bytes(key, g);
  s.bytes += g.bytes;
  if (!g.dirty) {
    g.dirty = true;
    s.dirty.push_back(it->first);
  }
  counters.events.fetch_add(1, std::memory_order_relaxed);
  while (s.bytes > impl.shard_cap && s.lru.size() > 1) {
    const std::string* victim = s.lru.back();
    if (victim == &it->first) break;
    auto v = s.groups.find(*victim);
    s.lru.pop_back();
    s.bytes -= v->second.bytes;
    if (!v->second.dirty) s.dirty.push_back(v->first);
    s.groups.erase(v);
    counters.evicted_groups.fetch_add(1, std::memory_order_relaxed);
  }
}

void CorrelationEngine::batch_begin() { impl_->my_progress().busy.store(true, std::memory_order_release); }

void CorrelationEngine::on_event(const RuleBinding& binding, const Event& event,
                                 const std::vector<std::uint32_t>& matched_rules, std::int64_t time_ns,
                                 std::vector<Alert>& alerts, std::size_t first_new) {
  Impl& impl = *impl_;
  // Watermark: the latest event time minus the lateness.
  std::int64_t seen = max_time_.load(std::memory_order_relaxed);
  while (time_ns > seen && !max_time_.compare_exchange_weak(seen, time_ns, std::memory_order_relaxed)) {
  }
  if (time_ns > seen) impl.watermark_dirty.store(true, std::memory_order_relaxed);
  Impl::Progress& mine = impl.my_progress();
  if (time_ns > mine.max_t.load(std::memory_order_relaxed)) mine.max_t.store(time_ns, std::memory_order_relaxed);
  // No lateness before the first batch end: the first events seen may not be the earliest.
  const std::int64_t base = impl.progress_t.load(std::memory_order_relaxed);
  const bool late = base > 0 && time_ns < base - impl.options.allowed_lateness_ns;
  bool counted_late = false;
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
      contribute(impl, counters_, in.correlation, in.position, values, std::move(value), time_ns, {}, event.host);
    }
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
        st.tenant = a.tenant;
        st.host = a.host;
        st.key_fields = std::move(key_fields);
        s.suppress_ends.push(HeapItem{st.until, key});
        s.dirty_suppress.insert(key);
      }
      // An expired period with repeats keeps its entry until advance() writes the summary;
      // this alert passes and the next period starts after that.
    }
  }
  return true;
}

namespace {

// Evaluates and removes the window starting at g.entries.front(). Returns true (and fills
// `alert`, `count`) when the condition holds.
bool close_window(const CompiledCorrelation& c, Group& g, std::uint64_t* count, std::int64_t* first,
                  std::int64_t* last, std::uint64_t* measured) {
  const std::int64_t start = g.entries.front().t;
  const std::int64_t end = start + c.rule.timespan_ns;
  std::size_t n = 0;
  while (n < g.entries.size() && g.entries[n].t < end) ++n;
  std::uint64_t measure = 0;
  switch (c.rule.type) {
    case CorrelationType::kEventCount: measure = n; break;
    case CorrelationType::kValueCount: {
      std::unordered_set<std::string_view> distinct;
      for (std::size_t i = 0; i < n; ++i) distinct.insert(g.entries[i].value);
      measure = distinct.size();
      break;
    }
    case CorrelationType::kTemporal: {
      std::set<std::uint32_t> kinds;
      for (std::size_t i = 0; i < n; ++i) kinds.insert(g.entries[i].pos);
      measure = kinds.size();
      break;
    }
    case CorrelationType::kTemporalOrdered: {
      std::uint32_t want = 0;
      for (std::size_t i = 0; i < n && want < c.rule.rules.size(); ++i)
        if (g.entries[i].pos == want) ++want;
      measure = want;
      break;
    }
  }
  *count = n;
  *measured = measure;
  *first = start;
  *last = g.entries[n - 1].t;
  g.entries.erase(g.entries.begin(), g.entries.begin() + static_cast<std::ptrdiff_t>(n));
  return c.rule.condition.holds(measure);
}

Alert correlation_alert(const CompiledCorrelation& c, const Group& g, std::uint64_t count, std::uint64_t measure,
                        std::int64_t first, std::int64_t last, std::int64_t now) {
  Alert a;
  a.received_unix_ns = now;
  a.event_unix_ns = last;
  a.event_time = format_time_utc(last);
  a.rule_id = c.rule.id;
  a.rule_title = c.rule.title;
  a.rule_path = c.rule.path;
  if (!parse_alert_level(c.rule.level, &a.level)) a.level = AlertLevel::kMedium;
  a.tags = c.rule.tags;
  a.tenant = g.tenant;
  a.host = g.host;
  a.format = "correlation";
  std::string groups;
  for (std::size_t i = 0; i < c.rule.group_by.size() && i < g.values.size(); ++i) {
    a.matched.push_back(AlertField{c.rule.group_by[i], g.values[i]});
    a.fields.push_back(AlertField{c.rule.group_by[i], g.values[i]});
    groups += (groups.empty() ? "" : ", ") + c.rule.group_by[i] + "=" + g.values[i];
  }
  a.fields.push_back(AlertField{"correlation_type", to_string(c.rule.type)});
  a.fields.push_back(AlertField{"event_count", std::to_string(count)});
  if (c.rule.type == CorrelationType::kValueCount)
    a.fields.push_back(AlertField{"distinct_" + c.rule.value_field, std::to_string(measure)});
  else if (c.rule.type != CorrelationType::kEventCount)
    a.fields.push_back(AlertField{"rules_matched", std::to_string(measure)});
  a.fields.push_back(AlertField{"window_start", format_time_utc(first)});
  a.fields.push_back(AlertField{"window_end", format_time_utc(last)});
  a.raw = "correlation " + std::string(to_string(c.rule.type)) + " '" + c.rule.title + "': " + std::to_string(count) +
          " events" + (groups.empty() ? "" : " for " + groups) + " from " + format_time_utc(first) + " to " +
          format_time_utc(last);
  return a;
}

Alert summary_alert(const SuppressState& st, std::int64_t now) {
  Alert a;
  a.received_unix_ns = now;
  a.event_unix_ns = st.last;
  a.event_time = format_time_utc(st.last);
  a.rule_id = st.rule_id;
  a.rule_title = st.title + " (repeats suppressed)";
  a.rule_path = st.path;
  parse_alert_level(st.level, &a.level);
  a.tags = st.tags;
  a.tenant = st.tenant;
  a.host = st.host;
  a.format = "suppression";
  a.matched = st.key_fields;
  a.fields = st.key_fields;
  a.fields.push_back(AlertField{"suppressed", std::to_string(st.repeats)});
  a.fields.push_back(AlertField{"suppressed_from", format_time_utc(st.first)});
  a.fields.push_back(AlertField{"suppressed_to", format_time_utc(st.last)});
  a.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(st.repeats, 0xFFFFFFFFu));
  a.raw = "suppressed " + std::to_string(st.repeats) + " repeats of '" + st.title + "' between " +
          format_time_utc(st.first) + " and " + format_time_utc(st.last);
  return a;
}

std::int64_t wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

void CorrelationEngine::advance(std::vector<Alert>& out, bool flush_all) {
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
  const std::int64_t watermark = flush_all ? kFar * 2 : seen - impl.options.allowed_lateness_ns;
  const std::int64_t now = now_wall;
  struct Fired {
    std::uint32_t correlation;
    std::vector<std::string> values;
    std::int64_t t;
    std::string tenant, host;
  };
  // Inner correlations close first, so that what they fire reaches the windows of the ones
  // that read them before those close.
  for (std::uint32_t depth = 0; depth <= impl.max_depth; ++depth) {
    std::vector<Fired> fired;
    std::vector<std::pair<std::uint32_t, Alert>> emitted;
    for (auto& sp : impl.shards) {
      Shard& s = *sp;
      std::lock_guard lock(s.mu);
      MinHeap& closes = s.closes[depth];
      while (!closes.empty() && closes.top().at <= watermark) {
        HeapItem item = closes.top();
        closes.pop();
        auto it = s.groups.find(item.key);
        if (it == s.groups.end()) continue;
        Group& g = it->second;
        std::uint32_t ci;
        std::memcpy(&ci, item.key.data(), 4);
        const CompiledCorrelation& c = impl.corr[ci];
        if (g.entries.empty() || g.entries.front().t + c.rule.timespan_ns != item.at) continue;  // stale
        std::uint64_t count, measure;
        std::int64_t first, last;
        counters_.windows_closed.fetch_add(1, std::memory_order_relaxed);
        if (close_window(c, g, &count, &first, &last, &measure)) {
          counters_.alerts.fetch_add(1, std::memory_order_relaxed);
          if (c.keep_alerts) emitted.push_back({ci, correlation_alert(c, g, count, measure, first, last, now)});
          if (!c.parents.empty()) fired.push_back(Fired{ci, g.values, last, g.tenant, g.host});
        }
        if (!g.dirty) {
          g.dirty = true;
          s.dirty.push_back(item.key);
        }
        s.bytes -= g.bytes;
        if (g.entries.empty()) {
          s.lru.erase(g.lru);
          s.groups.erase(it);
        } else {
          g.bytes = group_bytes(item.key, g);
          s.bytes += g.bytes;
          closes.push(HeapItem{g.entries.front().t + c.rule.timespan_ns, item.key});
        }
      }
      if (depth != impl.max_depth) continue;
      while (!s.suppress_ends.empty() && s.suppress_ends.top().at <= watermark) {
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
    // the suppression state may live in another shard).
    for (auto& [ci, a] : emitted) {
      const CompiledCorrelation& c = impl.corr[ci];
      if (c.rule.suppress.for_ns > 0) {
        std::vector<AlertField> key_fields;
        for (const std::string& f : c.rule.suppress.by) {
          std::string v;
          for (const AlertField& m : a.matched)
            if (m.name == f) v = m.value;
          key_fields.push_back(AlertField{f, v});
        }
        if (!admit(a, c.rule.suppress.for_ns, std::move(key_fields), a.event_unix_ns)) continue;
      }
      out.push_back(std::move(a));
    }
    // A correlation's result is an event of the correlations that read it (time = its last
    // event); it comes from inside, so lateness does not apply.
    for (Fired& f : fired) {
      const CompiledCorrelation& child = impl.corr[f.correlation];
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
          values.push_back(f.values[static_cast<std::size_t>(at - child.rule.group_by.begin())]);
        }
        std::string value;
        if (complete && parent.rule.type == CorrelationType::kValueCount) {
          auto at = std::find(child.rule.group_by.begin(), child.rule.group_by.end(), parent.value_fields[p.position]);
          if (at == child.rule.group_by.end()) complete = false;
          else value = f.values[static_cast<std::size_t>(at - child.rule.group_by.begin())];
        }
        if (!complete) {
          counters_.missing_group_field.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        contribute(impl, counters_, p.correlation, p.position, values, std::move(value), f.t, f.tenant, f.host);
      }
    }
  }
}

std::size_t CorrelationEngine::groups() const {
  std::size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard lock(s->mu);
    n += s->groups.size();
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
    const std::function<void(const std::string& key, const std::string* value)>& sink, bool everything) {
  Impl& impl = *impl_;
  std::string value;
  for (auto& sp : impl.shards) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    if (everything) {
      for (auto& kv : s.groups) {
        if (!kv.second.dirty) s.dirty.push_back(kv.first);
        kv.second.dirty = true;
      }
      for (const auto& kv : s.suppress) s.dirty_suppress.insert(kv.first);
    }
    for (const std::string& key : s.dirty) {
      std::uint32_t ci;
      std::memcpy(&ci, key.data(), 4);
      const CompiledCorrelation& c = impl.corr[ci];
      auto it = s.groups.find(key);
      if (it != s.groups.end()) {
        if (!it->second.dirty) continue;  // already written in this call (listed twice)
        it->second.dirty = false;
      }
      // The stored key names the correlation by id, so it survives rule changes.
      std::vector<std::string> values;
      if (it != s.groups.end()) values = it->second.values;
      else {
        std::string_view rest = std::string_view(key).substr(4);
        while (!rest.empty()) {
          auto cut = rest.find(kSep);
          values.emplace_back(rest.substr(0, cut));
          rest.remove_prefix(cut + 1);
        }
      }
      const std::string pk = persist_key(c, values);
      if (it == s.groups.end()) {
        sink(pk, nullptr);
        continue;
      }
      value.clear();
      const Group& g = it->second;
      put_u32(value, static_cast<std::uint32_t>(g.values.size()));
      for (const std::string& v : g.values) put_str(value, v);
      put_str(value, g.tenant);
      put_str(value, g.host);
      put_u32(value, static_cast<std::uint32_t>(g.entries.size()));
      for (const Entry& e : g.entries) {
        put_i64(value, e.t);
        put_u32(value, e.pos);
        put_str(value, e.value);
      }
      sink(pk, &value);
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
      sink(key, &value);
    }
    s.dirty_suppress.clear();
  }
  if (everything || impl.watermark_dirty.exchange(false)) {
    value.clear();
    put_i64(value, max_time_.load());
    sink("watermark", &value);
  }
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
  std::vector<Entry> entries;
  for (std::uint32_t n = r.u32(); r.ok && n > 0; --n) {
    Entry e;
    e.t = r.i64();
    e.pos = r.u32();
    e.value = r.str();
    entries.push_back(std::move(e));
  }
  if (!r.ok) return Status::ParseError("correlation state: bad window record");
  if (values.size() != impl.corr[ci].rule.group_by.size()) return Status::Ok();  // group-by changed
  for (Entry& e : entries) {
    if (e.pos >= impl.corr[ci].rule.rules.size()) continue;
    contribute(impl, counters_, ci, e.pos, values, std::move(e.value), e.t, tenant, host);
    counters_.events.fetch_sub(1, std::memory_order_relaxed);  // restored, not new
  }
  return Status::Ok();
}

std::int64_t event_time_ns(const Event& event, std::int64_t reference_ns) {
  if (event.time_unix_ns != 0) return event.time_unix_ns;
  std::string_view t = event.time_text;
  // "Mmm dd hh:mm:ss" (day may be space-padded).
  if (t.size() >= 15 && t[3] == ' ' && t[9] == ':' && t[12] == ':') {
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int mon = -1;
    for (int i = 0; i < 12; ++i)
      if (t.substr(0, 3) == kMonths[i]) mon = i;
    auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9' ? t[i] - '0' : -100; };
    const int day = (t[4] == ' ' ? 0 : digit(4) * 10) + digit(5);
    const int hh = digit(7) * 10 + digit(8), mm = digit(10) * 10 + digit(11), ss = digit(13) * 10 + digit(14);
    if (mon >= 0 && day >= 1 && day <= 31 && hh >= 0 && hh < 24 && mm >= 0 && mm < 60 && ss >= 0 && ss < 61) {
      const time_t ref = static_cast<time_t>(reference_ns / 1000000000LL);
      tm ref_tm{};
      gmtime_r(&ref, &ref_tm);
      for (int year = ref_tm.tm_year; year >= ref_tm.tm_year - 1; --year) {
        tm x{};
        x.tm_year = year;
        x.tm_mon = mon;
        x.tm_mday = day;
        x.tm_hour = hh;
        x.tm_min = mm;
        x.tm_sec = ss;
        const std::int64_t secs = timegm(&x);
        if (secs <= ref + 31LL * 86400 || year == ref_tm.tm_year - 1) return secs * 1000000000LL;
      }
    }
  }
  return reference_ns;
}

std::string format_time_utc(std::int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1000000000LL);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[48];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  std::string out = buf;
  if (const std::int64_t frac = unix_ns % 1000000000LL; frac != 0) {
    char f[16];
    std::snprintf(f, sizeof(f), ".%09lld", static_cast<long long>(frac));
    out += f;
  }
  return out + "Z";
}

}  // namespace vigil::rules
