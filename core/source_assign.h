#pragma once
// SourceAssigner: says which tenant and system a sender belongs to.
//
// Rules come from the config, in order. A CIDR rule matches the sender's IP address (IPv4 or
// IPv6; an IPv4 rule also matches the IPv4-mapped IPv6 form "::ffff:a.b.c.d"); a host-glob rule
// matches the hostname found in the record by the parser (`*` and `?`, ASCII case-insensitive).
// The first matching rule wins and its non-empty fields override the collector's defaults.
//
// Collectors call for_peer() once per connection (TCP/TLS) or per change of sender (UDP); the
// answers are cached, so a busy UDP port costs one lookup per sender, not per datagram.
//
// Thread-safety: create() once; for_peer() and apply_host() may then be called from any number of
// threads at once.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ingest.h"
#include "core/ip_network.h"
#include "core/status.h"

namespace vigil {

struct SourceRule {
  std::string cidr;       // "10.20.0.0/16", "2001:db8::/32", or one address; or:
  std::string host_glob;  // "dvc-*.example.vn"; exactly one of cidr / host_glob is set
  std::string tenant, system, product, category, service;  // "" = keep the default
};

class SourceAssigner {
 public:
  // Fails with InvalidArgument naming the rule for a malformed CIDR, a rule with both or
  // neither of cidr / host_glob, or a rule that sets nothing.
  static Result<SourceAssigner> create(std::vector<SourceRule> rules);

  // The SourceInfo for records from `ip`: `collector_default` with `peer` = ip and the first
  // matching CIDR rule's fields applied. The same pointer is returned for the same
  // (default, ip) while it stays cached. An `ip` that is not an address matches no rule.
  std::shared_ptr<const SourceInfo> for_peer(const std::shared_ptr<const SourceInfo>& collector_default,
                                             const std::string& ip) const;

  // For a hostname found by the parser: applies the first matching host-glob rule's tenant and
  // system (non-empty ones only) and returns true, or returns false when no rule matches.
  bool apply_host(std::string_view host, std::string* tenant, std::string* system) const;

  bool has_host_rules() const { return !host_rules_.empty(); }

  // Upper bound on cached (default, ip) answers; the cache is emptied when it is full, which
  // only costs a rule lookup per sender again.
  static constexpr std::size_t kMaxCachedPeers = 16384;

 private:
  struct CidrRule {
    IpNetwork network;  // IPv4-mapped networks are kept as IPv4, as peers are compared
    SourceRule fields;
  };
  struct Cache {
    std::mutex mutex;
    // Key holds the default alive so its address is never reused for another default.
    std::map<std::pair<const SourceInfo*, std::string>,
             std::pair<std::shared_ptr<const SourceInfo>, std::shared_ptr<const SourceInfo>>>
        entries;
  };

  SourceAssigner() = default;
  const SourceRule* match_ip(const std::string& ip) const;

  std::vector<CidrRule> cidr_rules_;
  std::vector<SourceRule> host_rules_;
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

// `*` any run of characters, `?` one character; ASCII case-insensitive.
bool glob_match_icase(std::string_view pattern, std::string_view text);

}  // namespace vigil
