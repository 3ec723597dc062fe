#pragma once
// IP addresses and networks ("10.20.0.0/16", "2001:db8::/32", a bare address = one host). One
// parser for Sigma's `cidr` modifier (the loader checks and normalises the rule's value, the
// compiler keeps the network, the matcher tests each event's value) and for the daemon's
// source rules, so a network means the same in a rule and in the config.
//
// Thread-safety: free functions and plain values.
#include <string>
#include <string_view>

namespace vigil {

struct IpAddress {
  unsigned char bytes[16] = {};  // IPv4 in the first four bytes
  bool v4 = false;
};

struct IpNetwork {
  IpAddress address;
  unsigned prefix = 0;         // bits: at most 32 for IPv4, 128 for IPv6
  bool host_bits_set = false;  // "10.1.2.3/8": callers refuse it (rules) or clear it (config)
};

// An IPv4 or IPv6 address, nothing around it.
bool parse_ip_address(std::string_view text, IpAddress* out);

// An IPv4-mapped IPv6 address ("::ffff:10.1.2.3", what a dual-stack socket reports for an IPv4
// peer) becomes the IPv4 address; others are left as they are.
void unmap_ipv4(IpAddress* address);

enum class IpNetworkError { kNone, kBadAddress, kBadPrefix };

// "address/prefix" or a bare address (a host network); nothing around it.
IpNetworkError parse_ip_network(std::string_view text, IpNetwork* out);

// Sets the bits after the prefix to zero.
void clear_host_bits(IpNetwork* network);

// Whether `address` lies in `network`; addresses of the other family never do.
bool network_contains(const IpNetwork& network, const IpAddress& address);

// "10.0.0.0/8", "2001:db8::/32": the address in its canonical text and the prefix.
std::string format_ip_network(const IpNetwork& network);

}  // namespace vigil
