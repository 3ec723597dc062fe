// The one duration parser and the one IP network parser (core/duration.h, core/ip_network.h),
// which rules, config and the command line all go through.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/duration.h"
#include "core/ip_network.h"

namespace vigil {
namespace {

std::int64_t Duration(const char* text) {
  std::int64_t ns = -1;
  EXPECT_TRUE(parse_duration(text, &ns)) << text;
  return ns;
}

TEST(Duration, UnitsAndZero) {
  EXPECT_EQ(Duration("250ms"), 250'000'000);
  EXPECT_EQ(Duration("90s"), 90'000'000'000);
  EXPECT_EQ(Duration("10m"), 600'000'000'000);
  EXPECT_EQ(Duration("2h"), 7'200'000'000'000);
  EXPECT_EQ(Duration("7d"), 604'800'000'000'000);
  EXPECT_EQ(Duration("0"), 0);
  EXPECT_EQ(Duration("0s"), 0);
}

TEST(Duration, MalformedAndOverflowingAreRefused) {
  std::int64_t ns = 7;
  for (const char* bad : {"", "s", "10", "10x", "-1s", "1.5h", " 5m", "5m ", "5 m", "5M", "106752d",
                          "99999999999999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad, &ns)) << bad;
  }
  EXPECT_EQ(ns, 7) << "a refused text leaves the output alone";
  EXPECT_TRUE(parse_duration("106751d", &ns)) << "the largest whole number of days in int64 ns";
}

IpAddress Address(const char* text) {
  IpAddress a;
  EXPECT_TRUE(parse_ip_address(text, &a)) << text;
  return a;
}

TEST(IpNetwork, ParseFormatAndContain) {
  IpNetwork n;
  ASSERT_EQ(parse_ip_network("10.20.0.0/16", &n), IpNetworkError::kNone);
  EXPECT_TRUE(n.address.v4);
  EXPECT_EQ(n.prefix, 16u);
  EXPECT_FALSE(n.host_bits_set);
  EXPECT_EQ(format_ip_network(n), "10.20.0.0/16");
  EXPECT_TRUE(network_contains(n, Address("10.20.255.1")));
  EXPECT_FALSE(network_contains(n, Address("10.21.0.1")));
  EXPECT_FALSE(network_contains(n, Address("::ffff:10.20.0.1"))) << "another family, as Sigma's cidr";

  ASSERT_EQ(parse_ip_network("2001:db8::/32", &n), IpNetworkError::kNone);
  EXPECT_FALSE(n.address.v4);
  EXPECT_TRUE(network_contains(n, Address("2001:db8:ffff::1")));
  EXPECT_FALSE(network_contains(n, Address("2001:db9::1")));
  EXPECT_FALSE(network_contains(n, Address("10.0.0.1")));

  ASSERT_EQ(parse_ip_network("192.0.2.7", &n), IpNetworkError::kNone);
  EXPECT_EQ(n.prefix, 32u) << "a bare address is one host";
  EXPECT_TRUE(network_contains(n, Address("192.0.2.7")));
  EXPECT_FALSE(network_contains(n, Address("192.0.2.8")));

  ASSERT_EQ(parse_ip_network("0.0.0.0/0", &n), IpNetworkError::kNone);
  EXPECT_TRUE(network_contains(n, Address("203.0.113.9")));
}

TEST(IpNetwork, HostBitsAreReportedAndCleared) {
  IpNetwork n;
  ASSERT_EQ(parse_ip_network("10.1.2.3/8", &n), IpNetworkError::kNone);
  EXPECT_TRUE(n.host_bits_set);
  clear_host_bits(&n);
  EXPECT_FALSE(n.host_bits_set);
  EXPECT_EQ(format_ip_network(n), "10.0.0.0/8");
}

TEST(IpNetwork, MalformedTextIsRefusedWithItsReason) {
  IpNetwork n;
  EXPECT_EQ(parse_ip_network("10.0.0.0/33", &n), IpNetworkError::kBadPrefix);
  EXPECT_EQ(parse_ip_network("10.0.0.0/", &n), IpNetworkError::kBadPrefix);
  EXPECT_EQ(parse_ip_network("10.0.0.0/8x", &n), IpNetworkError::kBadPrefix);
  EXPECT_EQ(parse_ip_network("2001:db8::/129", &n), IpNetworkError::kBadPrefix);
  EXPECT_EQ(parse_ip_network("10.0.0/8", &n), IpNetworkError::kBadAddress);
  EXPECT_EQ(parse_ip_network("host.example/8", &n), IpNetworkError::kBadAddress);
  EXPECT_EQ(parse_ip_network("", &n), IpNetworkError::kBadAddress);
  EXPECT_EQ(parse_ip_network(std::string(80, '1'), &n), IpNetworkError::kBadAddress);
}

TEST(IpNetwork, Ipv4MappedAddressesUnmap) {
  IpAddress a = Address("::ffff:10.1.2.3");
  EXPECT_FALSE(a.v4);
  unmap_ipv4(&a);
  EXPECT_TRUE(a.v4);
  IpNetwork n;
  ASSERT_EQ(parse_ip_network("10.0.0.0/8", &n), IpNetworkError::kNone);
  EXPECT_TRUE(network_contains(n, a));
  IpAddress v6 = Address("2001:db8::1");
  unmap_ipv4(&v6);
  EXPECT_FALSE(v6.v4);
}

}  // namespace
}  // namespace vigil
