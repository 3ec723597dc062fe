#include "core/source_assign.h"

#include <thread>

#include <gtest/gtest.h>

namespace vigil {
namespace {

std::shared_ptr<const SourceInfo> Default() {
  auto info = std::make_shared<SourceInfo>();
  info->collector = "syslog-tcp";
  info->tenant = "province";
  info->system = "unknown";
  info->product = "linux";
  return info;
}

SourceRule Cidr(std::string cidr, std::string tenant, std::string system = "") {
  SourceRule r;
  r.cidr = std::move(cidr);
  r.tenant = std::move(tenant);
  r.system = std::move(system);
  return r;
}

TEST(SourceAssigner, FirstMatchingCidrOverridesNonEmptyFields) {
  SourceRule firewall = Cidr("10.20.0.0/16", "", "dc-firewall");
  firewall.product = "fortigate";
  auto assigner = SourceAssigner::create({Cidr("10.20.30.0/24", "dvc", "dvc-portal"), firewall,
                                          Cidr("10.0.0.0/8", "lgsp")});
  ASSERT_TRUE(assigner) << assigner.error().to_string();
  const auto def = Default();

  auto portal = assigner->for_peer(def, "10.20.30.40");
  EXPECT_EQ(portal->tenant, "dvc");
  EXPECT_EQ(portal->system, "dvc-portal");
  EXPECT_EQ(portal->product, "linux");
  EXPECT_EQ(portal->peer, "10.20.30.40");
  EXPECT_EQ(portal->collector, "syslog-tcp");

  auto fw = assigner->for_peer(def, "10.20.99.1");
  EXPECT_EQ(fw->tenant, "province");  // empty tenant in the rule keeps the default
  EXPECT_EQ(fw->system, "dc-firewall");
  EXPECT_EQ(fw->product, "fortigate");

  EXPECT_EQ(assigner->for_peer(def, "10.99.0.1")->tenant, "lgsp");
  auto other = assigner->for_peer(def, "192.168.1.1");
  EXPECT_EQ(other->tenant, "province");
  EXPECT_EQ(other->system, "unknown");
  EXPECT_EQ(other->peer, "192.168.1.1");
  // The collector's own default is never modified.
  EXPECT_EQ(def->peer, "");
  EXPECT_EQ(def->tenant, "province");
}

TEST(SourceAssigner, Ipv6AndIpv4MappedAddresses) {
  auto assigner = SourceAssigner::create({Cidr("2001:db8:abcd::/48", "v6net"), Cidr("172.16.0.0/12", "v4net"),
                                          Cidr("::1", "loopback6")});
  ASSERT_TRUE(assigner) << assigner.error().to_string();
  const auto def = Default();
  EXPECT_EQ(assigner->for_peer(def, "2001:db8:abcd:12::5")->tenant, "v6net");
  EXPECT_EQ(assigner->for_peer(def, "2001:db8:abce::5")->tenant, "province");
  EXPECT_EQ(assigner->for_peer(def, "::ffff:172.31.255.255")->tenant, "v4net");
  EXPECT_EQ(assigner->for_peer(def, "172.32.0.0")->tenant, "province");
  EXPECT_EQ(assigner->for_peer(def, "::1")->tenant, "loopback6");
  EXPECT_EQ(assigner->for_peer(def, "::2")->tenant, "province");
  EXPECT_EQ(assigner->for_peer(def, "not-an-ip")->tenant, "province");
}

TEST(SourceAssigner, PrefixEdgesAndHostBits) {
  auto assigner = SourceAssigner::create({Cidr("192.168.1.129/25", "upper-half"), Cidr("0.0.0.0/0", "any-v4")});
  ASSERT_TRUE(assigner) << assigner.error().to_string();
  const auto def = Default();
  EXPECT_EQ(assigner->for_peer(def, "192.168.1.128")->tenant, "upper-half");
  EXPECT_EQ(assigner->for_peer(def, "192.168.1.255")->tenant, "upper-half");
  EXPECT_EQ(assigner->for_peer(def, "192.168.1.127")->tenant, "any-v4");
  EXPECT_EQ(assigner->for_peer(def, "8.8.8.8")->tenant, "any-v4");
  EXPECT_EQ(assigner->for_peer(def, "2001:db8::1")->tenant, "province");  // /0 of IPv4 only
}

TEST(SourceAssigner, BadRulesAreRefusedByName) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x", "fe80::/129", "host.example"}) {
    auto r = SourceAssigner::create({Cidr("10.1.0.0/16", "ok"), Cidr(bad, "t")});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
  }
  SourceRule both = Cidr("10.0.0.0/8", "t");
  both.host_glob = "x*";
  EXPECT_FALSE(SourceAssigner::create({both}));
  EXPECT_FALSE(SourceAssigner::create({SourceRule{}}));
  EXPECT_FALSE(SourceAssigner::create({Cidr("10.0.0.0/8", "")}));  // sets nothing
}

TEST(SourceAssigner, CachedAnswersAreSharedAndSafeAcrossThreads) {
  auto assigner = SourceAssigner::create({Cidr("10.0.0.0/8", "ten")});
  ASSERT_TRUE(assigner);
  const auto def = Default();
  const auto first = assigner->for_peer(def, "10.1.1.1");
  EXPECT_EQ(first.get(), assigner->for_peer(def, "10.1.1.1").get());
  // A different default for the same address is a different answer.
  auto other_default = std::make_shared<SourceInfo>(*def);
  other_default->collector = "syslog-udp";
  EXPECT_EQ(assigner->for_peer(other_default, "10.1.1.1")->collector, "syslog-udp");

  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string ip = "10.0." + std::to_string(t) + "." + std::to_string(i % 250);
        auto info = assigner->for_peer(def, ip);
        if (info->tenant != "ten" || info->peer != ip) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(SourceAssigner, CacheStaysBounded) {
  auto assigner = SourceAssigner::create({Cidr("10.0.0.0/8", "ten")});
  ASSERT_TRUE(assigner);
  const auto def = Default();
  std::weak_ptr<const SourceInfo> early = assigner->for_peer(def, "10.0.0.1");
  for (std::size_t i = 0; i < SourceAssigner::kMaxCachedPeers + 10; ++i)
    (void)assigner->for_peer(def, "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) +
                                      "." + std::to_string(i % 256));
  EXPECT_TRUE(early.expired());  // dropped from the full cache, nothing else holds it
}

TEST(SourceAssigner, HostGlobsAreCaseInsensitive) {
  SourceRule portal;
  portal.host_glob = "dvc-*.example.vn";
  portal.tenant = "dvc";
  portal.system = "portal";
  SourceRule office;
  office.host_glob = "eoffice-?";
  office.system = "e-office";
  auto assigner = SourceAssigner::create({portal, office, Cidr("10.0.0.0/8", "ten")});
  ASSERT_TRUE(assigner) << assigner.error().to_string();
  EXPECT_TRUE(assigner->has_host_rules());
  std::string tenant = "default", system = "default";
  EXPECT_TRUE(assigner->apply_host("DVC-web01.Example.VN", &tenant, &system));
  EXPECT_EQ(tenant, "dvc");
  EXPECT_EQ(system, "portal");
  tenant = system = "default";
  EXPECT_TRUE(assigner->apply_host("eoffice-2", &tenant, &system));
  EXPECT_EQ(tenant, "default");
  EXPECT_EQ(system, "e-office");
  EXPECT_FALSE(assigner->apply_host("eoffice-12", &tenant, &system));
  EXPECT_FALSE(assigner->apply_host("dvc-web01.example.vn.evil", &tenant, &system));
  EXPECT_FALSE(assigner->apply_host("10.1.2.3", &tenant, &system));  // CIDR rules are not host rules
}

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(glob_match_icase("*", ""));
  EXPECT_TRUE(glob_match_icase("a*b*c", "aXXbYYc"));
  EXPECT_TRUE(glob_match_icase("a*b*c", "abc"));
  EXPECT_FALSE(glob_match_icase("a*b*c", "acb"));
  EXPECT_TRUE(glob_match_icase("*.vn", "x.y.VN"));
  EXPECT_FALSE(glob_match_icase("?", ""));
  EXPECT_TRUE(glob_match_icase("a**?", "ab"));
  EXPECT_FALSE(glob_match_icase("abc", "abcd"));
  EXPECT_TRUE(glob_match_icase(std::string(50, '*') + "x", std::string(10000, 'a') + "x"));
}

}  // namespace
}  // namespace vigil
