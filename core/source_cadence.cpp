#include "core/source_cadence.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <tuple>

#include "core/source_assign.h"

namespace vigil {

namespace {

constexpr char kSep = '\x1f';
constexpr double kNsPerSecond = 1e9;

// The key's four parts (tenant, collector, host, program).
std::array<std::string_view, 4> split_key(std::string_view key) {
  std::array<std::string_view, 4> parts{};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t sep = key.find(kSep);
    if (sep == std::string_view::npos) {
      parts[i] = key;
      return parts;
    }
    parts[i] = key.substr(0, sep);
    key.remove_prefix(sep + 1);
  }
  parts[3] = key;
  return parts;
}

std::uint64_t mix(std::uint64_t h, std::string_view s) {
  // FNV-1a over the bytes, then a separator: cheap for the short names sources have.
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return (h ^ 0xff) * 0x100000001b3ULL;
}

// Record layout (little-endian host order, as the store is local): version byte, then the
// fixed fields, then the tamper reason.
constexpr std::uint8_t kRecordVersion = 1;
struct Packed {
  std::int64_t first_seen, last_seen, last_arrival, tampered_at;
  double sum_gap, sum_gap2;
  std::uint64_t events;
  std::uint32_t gaps;
  std::uint8_t silent;
};

}  // namespace

Status SourceCadenceOptions::validate() const {
  if (!(factor >= 1) || factor > 1e6) return Status::InvalidArgument("silence factor must be between 1 and 1000000");
  if (minimum_ns < 1000000000LL) return Status::InvalidArgument("silence minimum must be at least 1s");
  if (history_ns < minimum_ns) return Status::InvalidArgument("silence history must be at least the minimum");
  if (min_gaps < 1) return Status::InvalidArgument("silence min_gaps must be at least 1");
  if (max_sources < 1) return Status::InvalidArgument("silence max_sources must be at least 1");
  if (overrides.size() > 10000) return Status::InvalidArgument("at most 10000 silence overrides");
  for (const SourceOverride& o : overrides) {
    if (o.factor && (!(*o.factor >= 1) || *o.factor > 1e6))
      return Status::InvalidArgument("override factor must be between 1 and 1000000");
    if (o.minimum_ns && *o.minimum_ns < 1000000000LL)
      return Status::InvalidArgument("override minimum must be at least 1s");
    if (o.after_ns != 0 && o.after_ns < 1000000000LL)
      return Status::InvalidArgument("override 'after' must be at least 1s");
  }
  return Status::Ok();
}

// ---- SourceBatch -------------------------------------------------------------------------------

SourceBatch::SourceBatch() : slots_(64, 0) {}

void SourceBatch::add(std::string_view tenant, std::string_view collector, std::string_view host,
                      std::string_view program, std::string_view tamper) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  h = mix(mix(mix(mix(h, tenant), collector), host), program);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const std::uint32_t slot = slots_[i];
    if (slot == 0) break;
    Entry& e = entries_[slot - 1];
    if (e.hash != h) continue;
    // Compare part by part, without composing the key.
    const auto parts = split_key(e.key);
    if (parts[0] == tenant && parts[1] == collector && parts[2] == host && parts[3] == program) {
      ++e.events;
      if (!tamper.empty()) e.tamper.assign(tamper);
      return;
    }
  }
  if ((used_ + 1) * 2 > slots_.size()) grow();
  if (used_ == entries_.size()) entries_.emplace_back();
  Entry& e = entries_[used_++];
  // assign() into a reused string keeps its capacity: no allocation once warm.
  e.key.assign(tenant);
  e.key += kSep;
  e.key.append(collector);
  e.key += kSep;
  e.key.append(host);
  e.key += kSep;
  e.key.append(program);
  e.hash = h;
  e.events = 1;
  e.tamper.assign(tamper);
  const std::size_t m = slots_.size() - 1;
  std::size_t i = h & m;
  while (slots_[i] != 0) i = (i + 1) & m;
  slots_[i] = static_cast<std::uint32_t>(used_);
}

void SourceBatch::grow() {
  slots_.assign(slots_.size() * 2, 0);
  const std::size_t m = slots_.size() - 1;
  for (std::size_t k = 0; k < used_; ++k) {
    std::size_t i = entries_[k].hash & m;
    while (slots_[i] != 0) i = (i + 1) & m;
    slots_[i] = static_cast<std::uint32_t>(k + 1);
  }
}

void SourceBatch::clear() {
  // Only the slots in use are reset: a batch has few sources and the table may have grown.
  const std::size_t m = slots_.size() - 1;
  for (std::size_t k = 0; k < used_; ++k)
    for (std::size_t i = entries_[k].hash & m; slots_[i] != 0; i = (i + 1) & m) slots_[i] = 0;
  used_ = 0;
}

// ---- SourceStatus ------------------------------------------------------------------------------

const char* to_string(SourceState state) {
  switch (state) {
    case SourceState::kLearning: return "learning";
    case SourceState::kOk: return "ok";
    case SourceState::kSilent: return "silent";
  }
  return "unknown";
}

std::string SourceStatus::name() const {
  auto part = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  return part(collector) + "/" + part(host) + "/" + part(program);
}

// ---- SourceCadence -----------------------------------------------------------------------------

SourceCadence::SourceCadence(SourceCadenceOptions options) : options_(std::move(options)) {}

std::int16_t SourceCadence::find_override(std::string_view key) const {
  const auto p = split_key(key);
  for (std::size_t i = 0; i < options_.overrides.size(); ++i) {
    const SourceOverride& o = options_.overrides[i];
    auto fits = [](const std::string& pattern, std::string_view value) {
      return pattern.empty() || glob_match_icase(pattern, value);
    };
    if (fits(o.tenant, p[0]) && fits(o.collector, p[1]) && fits(o.host, p[2]) && fits(o.program, p[3]))
      return static_cast<std::int16_t>(i);
  }
  return -1;
}

std::int64_t SourceCadence::usual_gap(const Source& s) const {
  if (s.sum_gap <= 0) return 0;
  return static_cast<std::int64_t>(s.sum_gap2 / s.sum_gap * kNsPerSecond);
}

std::int64_t SourceCadence::resolution(const Source& s) const {
  const SourceOverride* o = s.override_index >= 0 ? &options_.overrides[s.override_index] : nullptr;
  const double factor = o && o->factor ? *o->factor : options_.factor;
  const std::int64_t minimum = o && o->minimum_ns ? *o->minimum_ns : options_.minimum_ns;
  return static_cast<std::int64_t>(static_cast<double>(minimum) / factor);
}

std::int64_t SourceCadence::threshold(const Source& s) const {
  const SourceOverride* o = s.override_index >= 0 ? &options_.overrides[s.override_index] : nullptr;
  if (o && !o->alert) return 0;
  if (o && o->after_ns > 0) return o->after_ns;  // fixed: a known cadence needs no learning
  if (s.gaps < options_.min_gaps) return 0;
  const double factor = o && o->factor ? *o->factor : options_.factor;
  const std::int64_t minimum = o && o->minimum_ns ? *o->minimum_ns : options_.minimum_ns;
  const double learnt = factor * static_cast<double>(usual_gap(s));
  return learnt > static_cast<double>(minimum) ? static_cast<std::int64_t>(std::min(learnt, 9e18)) : minimum;
}

std::size_t SourceCadence::cost(const std::string& key, const Source& s) const {
  // Node, key and reason heap blocks, and the bucket pointer: what the map really holds.
  return sizeof(Map::value_type) + 2 * sizeof(void*) + key.capacity() + s.tamper_reason.capacity();
}

void SourceCadence::evict_oldest() {
  // The 1% least recently seen go together, so a stream of new sources at the cap costs one
  // pass per 1% of the cap instead of one per source.
  const std::size_t n = std::max<std::size_t>(1, sources_.size() / 100);
  std::vector<std::pair<std::int64_t, const std::string*>> by_age;
  by_age.reserve(sources_.size());
  for (const auto& [key, s] : sources_) by_age.emplace_back(s.last_seen, &key);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(n - 1), by_age.end());
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back(*by_age[i].second);
  for (std::string& key : keys) {
    auto it = sources_.find(key);
    memory_ -= cost(it->first, it->second);
    sources_.erase(it);
    forgotten_.push_back(std::move(key));
    ++evicted_total_;
  }
}

void SourceCadence::observe(std::int64_t received_ns, const SourceBatch& batch,
                            std::vector<SourceTransition>* transitions) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const SourceBatch::Entry& e = batch[i];
    auto it = sources_.find(e.key);
    if (it == sources_.end()) {
      if (sources_.size() >= options_.max_sources) evict_oldest();
      it = sources_.emplace(e.key, Source{}).first;
      Source& s = it->second;
      s.first_seen = s.last_seen = s.last_arrival = received_ns;
      s.override_index = find_override(e.key);
      memory_ += cost(it->first, s);
    } else {
      Source& s = it->second;
      // Batches of different threads may commit out of order: time only moves forward.
      if (received_ns > s.last_seen) {
        const std::int64_t quiet = received_ns - s.last_seen;
        if (s.silent) {
          s.silent = false;
          ++recoveries_total_;
          if (transitions) transitions->push_back(SourceTransition{false, status(it->first, s, received_ns), quiet});
        }
        const std::int64_t gap = received_ns - s.last_arrival;
        if (gap >= resolution(s)) {
          // Once learnt, a gap counts as twice the usual one at most (see the header).
          std::int64_t learnt = gap;
          if (s.gaps >= options_.min_gaps && s.sum_gap > 0) {
            learnt = std::min(learnt, 2 * usual_gap(s));
            if (const std::int64_t limit = threshold(s); limit > 0) learnt = std::min(learnt, limit);
          }
          const double g = static_cast<double>(learnt) / kNsPerSecond;
          const double decay = std::exp(-static_cast<double>(gap) / static_cast<double>(options_.history_ns));
          s.sum_gap = s.sum_gap * decay + g;
          s.sum_gap2 = s.sum_gap2 * decay + g * g;
          if (s.gaps < UINT32_MAX) ++s.gaps;
          s.last_arrival = received_ns;
        }
        s.last_seen = received_ns;
      }
    }
    Source& s = it->second;
    s.events += e.events;
    if (!e.tamper.empty()) {
      s.tampered_at = std::max(s.tampered_at, received_ns);
      memory_ -= s.tamper_reason.capacity();
      s.tamper_reason = e.tamper;
      memory_ += s.tamper_reason.capacity();
    }
    s.dirty = true;
  }
}

void SourceCadence::check(std::int64_t now_ns, std::vector<SourceTransition>& transitions) {
  std::lock_guard lock(mu_);
  for (auto& [key, s] : sources_) {
    if (s.silent) continue;
    const std::int64_t limit = threshold(s);
    if (limit == 0 || now_ns - s.last_seen <= limit) continue;
    s.silent = true;
    s.dirty = true;
    ++silences_total_;
    transitions.push_back(SourceTransition{true, status(key, s, now_ns), now_ns - s.last_seen});
  }
}

SourceStatus SourceCadence::status(const std::string& key, const Source& s, std::int64_t now_ns) const {
  SourceStatus out;
  const auto p = split_key(key);
  out.tenant = p[0];
  out.collector = p[1];
  out.host = p[2];
  out.program = p[3];
  out.first_seen_ns = s.first_seen;
  out.last_seen_ns = s.last_seen;
  out.events = s.events;
  out.gaps = s.gaps;
  out.usual_gap_ns = usual_gap(s);
  out.threshold_ns = threshold(s);
  out.state = s.silent ? SourceState::kSilent : out.threshold_ns == 0 && s.gaps < options_.min_gaps
                                                    ? SourceState::kLearning
                                                    : SourceState::kOk;
  out.tampered = s.tampered_at != 0 && now_ns - s.tampered_at <= options_.history_ns;
  if (out.tampered) {
    out.tampered_ns = s.tampered_at;
    out.tamper_reason = s.tamper_reason;
  }
  return out;
}

std::vector<SourceStatus> SourceCadence::list(std::int64_t now_ns) const {
  std::vector<SourceStatus> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(sources_.size());
    for (const auto& [key, s] : sources_) out.push_back(status(key, s, now_ns));
  }
  // Ties (one batch brings many sources) by name parts, without composing names.
  std::sort(out.begin(), out.end(), [](const SourceStatus& a, const SourceStatus& b) {
    if (a.last_seen_ns != b.last_seen_ns) return a.last_seen_ns > b.last_seen_ns;
    return std::tie(a.collector, a.host, a.program, a.tenant) < std::tie(b.collector, b.host, b.program, b.tenant);
  });
  return out;
}

void SourceCadence::visit_last_seen(const std::function<void(std::string_view, std::int64_t)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [key, s] : sources_) fn(key, s.last_seen);
}

std::string SourceCadence::name_of_key(std::string_view key) {
  const auto p = split_key(key);
  SourceStatus s;
  s.collector = p[1];
  s.host = p[2];
  s.program = p[3];
  return s.name();
}

std::string_view SourceCadence::tenant_of_key(std::string_view key) { return split_key(key)[0]; }

std::size_t SourceCadence::size() const {
  std::lock_guard lock(mu_);
  return sources_.size();
}

std::size_t SourceCadence::memory_bytes() const {
  std::lock_guard lock(mu_);
  return memory_ + sources_.bucket_count() * sizeof(void*);
}

SourceCadence::Counts SourceCadence::counts(std::int64_t now_ns) const {
  Counts c;
  std::lock_guard lock(mu_);
  c.sources = sources_.size();
  c.evicted = evicted_total_;
  c.silences = silences_total_;
  c.recoveries = recoveries_total_;
  for (const auto& [key, s] : sources_) {
    if (s.silent) ++c.silent;
    else if (threshold(s) == 0 && s.gaps < options_.min_gaps) ++c.learning;
    else ++c.ok;
    if (s.tampered_at != 0 && now_ns - s.tampered_at <= options_.history_ns) ++c.tampered;
  }
  return c;
}

void SourceCadence::collect_changes(const std::function<void(const std::string&, const std::string*)>& fn,
                                    bool everything) {
  std::lock_guard lock(mu_);
  for (const std::string& key : forgotten_) fn(key, nullptr);
  forgotten_.clear();
  std::string value;
  for (auto& [key, s] : sources_) {
    if (!s.dirty && !everything) continue;
    s.dirty = false;
    Packed p;
    std::memset(&p, 0, sizeof p);  // no stray padding bytes in the store
    p.first_seen = s.first_seen;
    p.last_seen = s.last_seen;
    p.last_arrival = s.last_arrival;
    p.tampered_at = s.tampered_at;
    p.sum_gap = s.sum_gap;
    p.sum_gap2 = s.sum_gap2;
    p.events = s.events;
    p.gaps = s.gaps;
    p.silent = s.silent ? 1 : 0;
    value.assign(1, static_cast<char>(kRecordVersion));
    value.append(reinterpret_cast<const char*>(&p), sizeof p);
    value.append(s.tamper_reason);
    fn(key, &value);
  }
}

Status SourceCadence::restore(std::string_view key, std::string_view value) {
  if (value.size() < 1 + sizeof(Packed) || static_cast<std::uint8_t>(value[0]) != kRecordVersion)
    return Status::InvalidArgument("source record of an unknown layout");
  if (std::count(key.begin(), key.end(), kSep) != 3) return Status::InvalidArgument("source key without four parts");
  Packed p;
  std::memcpy(&p, value.data() + 1, sizeof p);
  if (!(p.sum_gap >= 0) || !(p.sum_gap2 >= 0)) return Status::InvalidArgument("source record with bad sums");
  std::lock_guard lock(mu_);
  if (sources_.size() >= options_.max_sources) evict_oldest();
  auto [it, inserted] = sources_.try_emplace(std::string(key));
  if (!inserted) memory_ -= cost(it->first, it->second);
  Source& s = it->second;
  s.first_seen = p.first_seen;
  s.last_seen = p.last_seen;
  s.last_arrival = p.last_arrival;
  s.tampered_at = p.tampered_at;
  s.sum_gap = p.sum_gap;
  s.sum_gap2 = p.sum_gap2;
  s.events = p.events;
  s.gaps = p.gaps;
  s.silent = p.silent != 0;
  s.tamper_reason.assign(value.substr(1 + sizeof(Packed)));
  s.override_index = find_override(key);  // the config may have changed since it was written
  s.dirty = false;
  memory_ += cost(it->first, s);
  return Status::Ok();
}

}  // namespace vigil
