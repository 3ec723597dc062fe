#include "app/match_stage.h"

#include <cstdio>
#include <map>

#include "core/metrics.h"

namespace vigil::app {

RuleMatchProcessor::RuleMatchProcessor(const LiveRuleSet& live, const SourceAssigner* assigner,
                                       Metrics* metrics, std::size_t max_record_bytes,
                                       MatchObserver* observer)
    : live_(live), assigner_(assigner), metrics_(metrics), observer_(observer),
      parser_(parse::ParserOptions{max_record_bytes}) {}

bool RuleMatchProcessor::refresh_matcher() {
  const std::uint64_t generation = live_.generation();
  if (matcher_ && generation == generation_) return true;
  auto m = rules::Matcher::create(live_.get());
  if (!m) {
    // Scratch allocation failed (out of memory): keep the old matcher if there is one.
    std::fprintf(stderr, "vigil: matcher: %s\n", m.error().to_string().c_str());
    return matcher_ != nullptr;
  }
  matcher_ = std::move(*m);
  generation_ = generation;
  return true;
}

Alert make_alert(const rules::SigmaRule& rule, const Event& event, const rules::RuleMatch& match,
                 const SourceInfo& source, std::int64_t received_unix_ns) {
  Alert a;
  a.received_unix_ns = received_unix_ns;
  a.event_unix_ns = event.time_unix_ns;
  a.event_time = std::string(event.time_text);
  a.rule_id = rule.id;
  a.rule_title = rule.title;
  a.rule_path = rule.path;
  if (!parse_alert_level(rule.level, &a.level)) a.level = AlertLevel::kInformational;
  a.tags = rule.tags;
  a.attack_tactics = rule.attack.tactics;
  a.attack_techniques = rule.attack.techniques;
  a.tenant = source.tenant;
  a.system = source.system;
  a.host = std::string(event.host);
  a.collector = source.collector;
  a.peer = source.peer;
  a.record_no = event.record_no;
  a.format = to_string(event.format);
  for (const rules::MatchedField& m : match.matched)
    a.matched.push_back(AlertField{m.field.empty() ? std::string("(keyword)") : std::string(m.field),
                                   std::string(m.value)});
  // Parsed fields are kept for text records (a JSON event is its own field list). Names that
  // start with '_' are parser internals.
  if (event.format != LogFormat::kJson)
    for (const Field& f : event.fields.fields())
      if (!f.name.empty() && f.name[0] != '_')
        a.fields.push_back(AlertField{std::string(f.name), std::string(f.value)});
  a.raw = std::string(event.raw);
  return a;
}

void RuleMatchProcessor::process(const IngestBatch& batch, std::vector<Alert>& alerts) {
  // Already begun by on_taken() when the pipeline calls; again here (it is idempotent) for a
  // caller that does not, before the (possibly slow) matcher refresh.
  if (observer_) observer_->on_batch_begin();
  if (!refresh_matcher()) {
    if (observer_) observer_->on_batch_end(alerts);
    return;
  }
  const rules::RuleSet& rs = matcher_->rules();
  // Per-batch tallies, handed to the metrics once (never per event).
  std::vector<Metrics::ParseErrorCounts> errors(batch.sources.size());
  std::vector<std::uint64_t> parsed(batch.sources.size(), 0);
  std::map<std::uint32_t, std::uint64_t> rule_hits;
  for (const IngestRecord& rec : batch.records) {
    const SourceInfo& src = *batch.sources[rec.source];
    if (rec.record.oversize) {
      errors[rec.source][static_cast<std::size_t>(ParseErrorKind::kOversize)]++;
      continue;
    }
    event_.start_record(rec.record.bytes, src.collector, rec.record.record_no, src.product, src.category,
                        src.service);
    matches_.clear();
    const bool usable = matcher_->match(event_, parser_, src.format, matches_);
    if (event_.parse_error != ParseErrorKind::kNone)
      errors[rec.source][static_cast<std::size_t>(event_.parse_error)]++;
    // A record that does not parse still shows that its source is sending.
    if (observer_) observer_->on_record(event_, src, batch.received_unix_ns);
    if (!usable) continue;
    parsed[rec.source]++;
    if (matches_.empty()) continue;
    const std::size_t first_new = alerts.size();
    for (const rules::RuleMatch& m : matches_) {
      Alert a = make_alert(rs.rule(m.rule), event_, m, src, batch.received_unix_ns);
      if (assigner_ && !a.host.empty()) assigner_->apply_host(a.host, &a.tenant, &a.system);
      alerts.push_back(std::move(a));
      rule_hits[m.rule]++;
    }
    if (observer_) observer_->on_event(event_, matches_, rs, src, alerts, first_new);
  }
  // Ready-made alerts (a province's alerts forwarded to a national vigil) are stored as sent.
  for (const Alert& a : batch.alerts) alerts.push_back(a);
  if (observer_) observer_->on_batch_end(alerts);
  // A batch without records (the correlation idle flush's) names no collector that sent.
  if (!metrics_ || batch.records.empty()) return;
  for (std::size_t i = 0; i < batch.sources.size(); ++i)
    metrics_->add_parsed(batch.sources[i]->collector, parsed[i], errors[i]);
  for (const auto& [rule, n] : rule_hits)
    metrics_->add_rule_matches(rs.rule(rule).id, n);
}

}  // namespace vigil::app
