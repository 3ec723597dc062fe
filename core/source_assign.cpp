#include "core/source_assign.h"



#include "core/ascii.h"

namespace vigil {

bool glob_match_icase(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point (the last '*'): linear in practice, and no
  // recursion a hostile pattern could blow up.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || ascii_lower(pattern[p]) == ascii_lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

std::string describe(const SourceRule& rule) {
  return rule.cidr.empty() ? "host_glob '" + rule.host_glob + "'" : "cidr '" + rule.cidr + "'";
}

}  // namespace

Result<SourceAssigner> SourceAssigner::create(std::vector<SourceRule> rules) {
  SourceAssigner assigner;
  for (SourceRule& rule : rules) {
    if (rule.cidr.empty() == rule.host_glob.empty())
      return Error(Status::InvalidArgument("source rule must set exactly one of cidr and host_glob (got " +
                                           (rule.cidr.empty() ? std::string("neither")
                                                              : "cidr '" + rule.cidr + "' and host_glob '" +
                                                                    rule.host_glob + "'") +
                                           ")"));
    if (rule.tenant.empty() && rule.system.empty() && rule.product.empty() && rule.category.empty() &&
        rule.service.empty())
      return Error(Status::InvalidArgument("source rule " + describe(rule) +
                                           " sets none of tenant, system, product, category, service"));
    if (!rule.host_glob.empty()) {
      assigner.host_rules_.push_back(std::move(rule));
      continue;
    }
    CidrRule cidr;
    switch (parse_ip_network(rule.cidr, &cidr.network)) {
      case IpNetworkError::kNone: break;
      case IpNetworkError::kBadAddress:
        return Error(Status::InvalidArgument("source rule cidr '" + rule.cidr + "': '" +
                                             rule.cidr.substr(0, rule.cidr.find('/')) +
                                             "' is not an IPv4 or IPv6 address"));
      case IpNetworkError::kBadPrefix:
        return Error(Status::InvalidArgument("source rule cidr '" + rule.cidr + "': prefix length must be 0.." +
                                             std::to_string(cidr.network.address.v4 ? 32 : 128)));
    }
    // Host bits set in the rule ("10.1.2.3/8") are cleared rather than refused: the intent is clear.
    clear_host_bits(&cidr.network);
    // Peers are compared as IPv4 when they are IPv4-mapped (below): an IPv4-mapped rule too.
    if (cidr.network.prefix >= 96) {
      const bool was_v6 = !cidr.network.address.v4;
      unmap_ipv4(&cidr.network.address);
      if (was_v6 && cidr.network.address.v4) cidr.network.prefix -= 96;
    }
    cidr.fields = std::move(rule);
    assigner.cidr_rules_.push_back(std::move(cidr));
  }
  return assigner;
}

const SourceRule* SourceAssigner::match_ip(const std::string& ip) const {
  if (cidr_rules_.empty()) return nullptr;
  IpAddress address;
  if (!parse_ip_address(ip, &address)) return nullptr;
  // A dual-stack listener reports an IPv4 peer as "::ffff:a.b.c.d".
  unmap_ipv4(&address);
  for (const CidrRule& rule : cidr_rules_)
    if (network_contains(rule.network, address)) return &rule.fields;
  return nullptr;
}

std::shared_ptr<const SourceInfo> SourceAssigner::for_peer(
    const std::shared_ptr<const SourceInfo>& collector_default, const std::string& ip) const {
  auto key = std::make_pair(collector_default.get(), ip);
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->entries.find(key);
    if (it != cache_->entries.end()) return it->second.second;
  }
  auto info = std::make_shared<SourceInfo>(collector_default ? *collector_default : SourceInfo{});
  info->peer = ip;
  if (const SourceRule* rule = match_ip(ip)) {
    if (!rule->tenant.empty()) info->tenant = rule->tenant;
    if (!rule->system.empty()) info->system = rule->system;
    if (!rule->product.empty()) info->product = rule->product;
    if (!rule->category.empty()) info->category = rule->category;
    if (!rule->service.empty()) info->service = rule->service;
  }
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->entries.size() >= kMaxCachedPeers) cache_->entries.clear();
  // Another thread may have inserted meanwhile: keep its answer so the pointer stays stable.
  return cache_->entries.emplace(std::move(key), std::make_pair(collector_default, info)).first->second.second;
}

bool SourceAssigner::apply_host(std::string_view host, std::string* tenant, std::string* system) const {
  for (const SourceRule& rule : host_rules_) {
    if (!glob_match_icase(rule.host_glob, host)) continue;
    if (tenant && !rule.tenant.empty()) *tenant = rule.tenant;
    if (system && !rule.system.empty()) *system = rule.system;
    return true;
  }
  return false;
}

}  // namespace vigil
