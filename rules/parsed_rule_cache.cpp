#include "rules/parsed_rule_cache.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/build_id.h"
#include "core/sha256.h"

namespace vigil::rules {

namespace {

// Bumped whenever the layout below changes (the build id changes with it anyway).
constexpr std::string_view kMagic = "VGPR0004";

// A new member of these structs must be written and read below: these sizes fail the build
// until it is (x86-64, libstdc++). The round-trip test compares whole structs with ==.
static_assert(sizeof(Predicate) == 88, "Predicate changed: update parsed_rule_cache.cpp");
static_assert(sizeof(CondNode) == 32, "CondNode changed: update parsed_rule_cache.cpp");
static_assert(sizeof(SigmaRule) == 744, "SigmaRule changed: update parsed_rule_cache.cpp");
static_assert(sizeof(CorrelationRule) == 704, "CorrelationRule changed: update parsed_rule_cache.cpp");
static_assert(sizeof(LoadError) == 136, "LoadError changed: update parsed_rule_cache.cpp");

class Writer {
 public:
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const std::string& s : v) str(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u64(std::uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool i64(std::int64_t* v) {
    std::uint64_t u;
    if (!u64(&u)) return false;
    *v = static_cast<std::int64_t>(u);
    return true;
  }
  bool integer(int* v) {
    std::int64_t x;
    if (!i64(&x)) return false;
    *v = static_cast<int>(x);
    return true;
  }
  bool u8(std::uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool boolean(bool* v) {
    std::uint8_t b;
    if (!u8(&b) || b > 1) return false;
    *v = b == 1;
    return true;
  }
  bool f64(double* v) {
    std::uint64_t bits;
    if (!u64(&bits)) return false;
    std::memcpy(v, &bits, sizeof bits);
    return true;
  }
  bool str(std::string* s) {
    std::uint64_t n;
    if (!u64(&n) || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  // A count of items each at least `min_bytes` long: bounded by what is left.
  bool count(std::uint64_t* n, std::size_t min_bytes) { return u64(n) && *n <= in_.size() / min_bytes; }
  bool strs(std::vector<std::string>* v) {
    std::uint64_t n;
    if (!count(&n, 8)) return false;
    v->resize(n);
    for (std::string& s : *v)
      if (!str(&s)) return false;
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

void write_condition(Writer& w, const CondNode& n) {
  w.u8(static_cast<std::uint8_t>(n.kind));
  w.u64(n.pred);
  w.u64(n.children.size());
  for (const CondNode& c : n.children) write_condition(w, c);
}

bool read_condition(Reader& r, CondNode* n, int depth) {
  std::uint8_t kind;
  std::uint64_t pred, children;
  if (depth > 10000 || !r.u8(&kind) || kind > static_cast<std::uint8_t>(CondNode::Kind::kFalse) || !r.u64(&pred) ||
      pred > UINT32_MAX || !r.count(&children, 17))
    return false;
  n->kind = static_cast<CondNode::Kind>(kind);
  n->pred = static_cast<std::uint32_t>(pred);
  n->children.resize(children);
  for (CondNode& c : n->children)
    if (!read_condition(r, &c, depth + 1)) return false;
  return true;
}

void write_rule(Writer& w, const SigmaRule& rule) {
  for (const std::string* s : {&rule.id, &rule.title, &rule.status, &rule.description, &rule.author, &rule.date,
                               &rule.modified, &rule.level, &rule.name, &rule.product, &rule.category, &rule.service,
                               &rule.path, &rule.vigil_extension, &rule.declared_level, &rule.level_override_why})
    w.str(*s);
  for (const auto* v : {&rule.tags, &rule.references, &rule.falsepositives, &rule.fields, &rule.correlation_fields,
                        &rule.attack.tactics, &rule.attack.techniques})
    w.strs(*v);
  w.u64(rule.predicates.size());
  for (const Predicate& p : rule.predicates) {
    w.str(p.field);
    w.u8(static_cast<std::uint8_t>(p.op));
    w.str(p.value);
    for (bool b : {p.cased, p.regex_i, p.regex_m, p.regex_s, p.exists_expected}) w.u8(b);
    w.f64(p.number);
  }
  write_condition(w, rule.condition);
  w.i64(rule.line);
}

bool read_rule(Reader& r, SigmaRule* rule) {
  for (std::string* s : {&rule->id, &rule->title, &rule->status, &rule->description, &rule->author, &rule->date,
                         &rule->modified, &rule->level, &rule->name, &rule->product, &rule->category, &rule->service,
                         &rule->path, &rule->vigil_extension, &rule->declared_level, &rule->level_override_why})
    if (!r.str(s)) return false;
  for (auto* v : {&rule->tags, &rule->references, &rule->falsepositives, &rule->fields, &rule->correlation_fields,
                  &rule->attack.tactics, &rule->attack.techniques})
    if (!r.strs(v)) return false;
  std::uint64_t n;
  if (!r.count(&n, 30)) return false;
  rule->predicates.resize(n);
  for (Predicate& p : rule->predicates) {
    std::uint8_t op;
    if (!r.str(&p.field) || !r.u8(&op) || op > static_cast<std::uint8_t>(MatchOp::kFieldRefEndsWith) ||
        !r.str(&p.value))
      return false;
    p.op = static_cast<MatchOp>(op);
    for (bool* b : {&p.cased, &p.regex_i, &p.regex_m, &p.regex_s, &p.exists_expected})
      if (!r.boolean(b)) return false;
    if (!r.f64(&p.number)) return false;
  }
  return read_condition(r, &rule->condition, 0) && r.integer(&rule->line);
}

void write_correlation(Writer& w, const CorrelationRule& c) {
  for (const std::string* s : {&c.id, &c.name, &c.title, &c.description, &c.author, &c.date, &c.modified, &c.status,
                               &c.level, &c.value_field, &c.path})
    w.str(*s);
  for (const auto* v : {&c.tags, &c.references, &c.falsepositives, &c.rules, &c.group_by, &c.suppress.by,
                        &c.attack.tactics, &c.attack.techniques})
    w.strs(*v);
  w.u8(static_cast<std::uint8_t>(c.type));
  w.i64(c.timespan_ns);
  const CountCondition& k = c.condition;
  for (bool b : {k.has_gt, k.has_gte, k.has_lt, k.has_lte, k.has_eq}) w.u8(b);
  for (std::uint64_t v : {k.gt, k.gte, k.lt, k.lte, k.eq}) w.u64(v);
  w.u64(c.aliases.size());
  for (const auto& [alias, by_rule] : c.aliases) {
    w.str(alias);
    w.u64(by_rule.size());
    for (const auto& [rule, field] : by_rule) {
      w.str(rule);
      w.str(field);
    }
  }
  w.u8(c.generate);
  w.i64(c.suppress.for_ns);
  w.u64(c.extract.size());
  for (const ExtractedField& e : c.extract) {
    w.str(e.name);
    w.str(e.from);
    w.str(e.regex);
  }
  w.i64(c.line);
}

bool read_correlation(Reader& r, CorrelationRule* c) {
  for (std::string* s : {&c->id, &c->name, &c->title, &c->description, &c->author, &c->date, &c->modified, &c->status,
                         &c->level, &c->value_field, &c->path})
    if (!r.str(s)) return false;
  for (auto* v : {&c->tags, &c->references, &c->falsepositives, &c->rules, &c->group_by, &c->suppress.by,
                  &c->attack.tactics, &c->attack.techniques})
    if (!r.strs(v)) return false;
  std::uint8_t type;
  if (!r.u8(&type) || type > static_cast<std::uint8_t>(CorrelationType::kTemporalOrdered) || !r.i64(&c->timespan_ns))
    return false;
  c->type = static_cast<CorrelationType>(type);
  CountCondition& k = c->condition;
  for (bool* b : {&k.has_gt, &k.has_gte, &k.has_lt, &k.has_lte, &k.has_eq})
    if (!r.boolean(b)) return false;
  for (std::uint64_t* v : {&k.gt, &k.gte, &k.lt, &k.lte, &k.eq})
    if (!r.u64(v)) return false;
  std::uint64_t aliases;
  if (!r.count(&aliases, 16)) return false;
  for (std::uint64_t i = 0; i < aliases; ++i) {
    std::string alias;
    std::uint64_t n;
    if (!r.str(&alias) || !r.count(&n, 16)) return false;
    auto& by_rule = c->aliases[alias];
    for (std::uint64_t j = 0; j < n; ++j) {
      std::string rule, field;
      if (!r.str(&rule) || !r.str(&field)) return false;
      by_rule[rule] = std::move(field);
    }
  }
  std::uint64_t extract;
  if (!r.boolean(&c->generate) || !r.i64(&c->suppress.for_ns) || !r.count(&extract, 24)) return false;
  c->extract.resize(extract);
  for (ExtractedField& e : c->extract)
    if (!r.str(&e.name) || !r.str(&e.from) || !r.str(&e.regex)) return false;
  return r.integer(&c->line);
}

std::string digest_of(std::string_view content) {
  const auto d = Sha256().update(content).digest();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

std::string serialize_load_report(const LoadReport& report) {
  Writer w;
  w.u64(report.documents_seen);
  w.u64(report.rules.size());
  for (const SigmaRule& rule : report.rules) write_rule(w, rule);
  w.u64(report.correlations.size());
  for (const CorrelationRule& c : report.correlations) write_correlation(w, c);
  w.u64(report.errors.size());
  for (const LoadError& e : report.errors) {
    for (const std::string* s : {&e.file, &e.rule_id, &e.reason, &e.message}) w.str(*s);
    w.i64(e.line);
  }
  return w.take();
}

bool deserialize_load_report(std::string_view bytes, LoadReport& report) {
  Reader r(bytes);
  LoadReport got;
  std::uint64_t documents, rules, correlations, errors;
  if (!r.u64(&documents) || !r.count(&rules, 100)) return false;
  got.rules.resize(rules);
  for (SigmaRule& rule : got.rules)
    if (!read_rule(r, &rule)) return false;
  if (!r.count(&correlations, 100)) return false;
  got.correlations.resize(correlations);
  for (CorrelationRule& c : got.correlations)
    if (!read_correlation(r, &c)) return false;
  if (!r.count(&errors, 40)) return false;
  got.errors.resize(errors);
  for (LoadError& e : got.errors) {
    for (std::string* s : {&e.file, &e.rule_id, &e.reason, &e.message})
      if (!r.str(s)) return false;
    if (!r.integer(&e.line)) return false;
  }
  if (!r.done()) return false;
  report.documents_seen += documents;
  for (SigmaRule& rule : got.rules) report.rules.push_back(std::move(rule));
  for (CorrelationRule& c : got.correlations) report.correlations.push_back(std::move(c));
  for (LoadError& e : got.errors) report.errors.push_back(std::move(e));
  return true;
}

ParsedRuleCache::ParsedRuleCache(DatabaseCache* cache, std::string_view scope, std::int64_t settled_ns)
    : cache_(cache), settled_ns_(settled_ns) {
  if (!cache_ || !cache_->usable() || program_build_id().empty()) {
    cache_ = nullptr;
    return;
  }
  key_ = Sha256().update(kMagic).update(program_build_id()).update_u64(scope.size()).update(scope).hex_digest();
  std::string payload;
  if (!cache_->load_parsed(key_, &payload)) return;
  Reader r(payload);
  std::uint64_t files;
  if (!r.i64(&written_ns_) || !r.count(&files, 32)) return;
  for (std::uint64_t i = 0; i < files; ++i) {
    std::string path;
    File f;
    if (!r.str(&path) || !r.str(&f.digest) || !r.str(&f.stat) || !r.str(&f.results)) {
      before_.clear();  // checksummed, so only a bug gets here: parse everything
      return;
    }
    before_.emplace(std::move(path), std::move(f));
  }
  entries_read_ = before_.size();
}

std::string ParsedRuleCache::stat_signature(const struct stat& st) {
  Writer w;
  w.u64(st.st_dev);
  w.u64(st.st_ino);
  w.u64(static_cast<std::uint64_t>(st.st_size));
  w.i64(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  w.i64(st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec);
  return w.take();
}

bool ParsedRuleCache::replay(const std::string& path, File& f, LoadReport& report) {
  const std::size_t rules = report.rules.size(), correlations = report.correlations.size(),
                    errors = report.errors.size(), documents = report.documents_seen;
  if (deserialize_load_report(f.results, report)) {
    ++reused_;
    now_[path] = std::move(f);  // each path is loaded once per load
    return true;
  }
  report.rules.resize(rules);
  report.correlations.resize(correlations);
  report.errors.resize(errors);
  report.documents_seen = documents;
  return false;
}

bool ParsedRuleCache::load_unchanged(const std::string& path, const struct stat& st, LoadReport& report) {
  if (!cache_) return false;
  auto it = before_.find(path);
  if (it == before_.end() || it->second.stat != stat_signature(st)) return false;
  // A file changed in the same clock tick as its entry was written could keep its size and
  // times: only a file whose last change is well before the entry was written is trusted on
  // its metadata (the rest are read and hashed).
  const std::int64_t changed_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  if (changed_ns > written_ns_ - settled_ns_) return false;
  return replay(path, it->second, report);
}

void ParsedRuleCache::load(const std::string& path, std::string_view content, LoadReport& report,
                           const struct stat* st) {
  if (!cache_) {
    load_rule_text(content, path, report);
    ++parsed_;
    return;
  }
  const std::string digest = digest_of(content);
  if (auto it = before_.find(path); it != before_.end() && it->second.digest == digest) {
    it->second.stat = st ? stat_signature(*st) : std::string();
    if (replay(path, it->second, report)) {
      dirty_ = dirty_ || st != nullptr;  // the new signature saves the next load a read
      return;
    }
  }
  LoadReport mine;
  load_rule_text(content, path, mine);
  ++parsed_;
  now_[path] = File{digest, st ? stat_signature(*st) : std::string(), serialize_load_report(mine)};
  dirty_ = true;
  report.documents_seen += mine.documents_seen;
  for (SigmaRule& rule : mine.rules) report.rules.push_back(std::move(rule));
  for (CorrelationRule& c : mine.correlations) report.correlations.push_back(std::move(c));
  for (LoadError& e : mine.errors) report.errors.push_back(std::move(e));
}

void ParsedRuleCache::save() {
  if (!cache_ || (!dirty_ && now_.size() == entries_read_)) return;
  Writer w;
  w.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  w.u64(now_.size());
  for (const auto& [path, f] : now_) {
    w.str(path);
    w.str(f.digest);
    w.str(f.stat);
    w.str(f.results);
  }
  cache_->store_parsed(key_, w.take());
  dirty_ = false;
  entries_read_ = now_.size();
}

}  // namespace vigil::rules
