#include "core/ip_network.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace vigil {

namespace {

unsigned family_bits(const IpAddress& a) { return a.v4 ? 32 : 128; }

bool bit_set(const IpAddress& a, unsigned bit) { return (a.bytes[bit / 8] & (0x80u >> (bit % 8))) != 0; }

}  // namespace

bool parse_ip_address(std::string_view text, IpAddress* out) {
  // inet_pton needs a terminated string; addresses are short.
  char buffer[64];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress a;
  if (::inet_pton(AF_INET, buffer, a.bytes) == 1) {
    a.v4 = true;
  } else if (::inet_pton(AF_INET6, buffer, a.bytes) != 1) {
    return false;
  }
  *out = a;
  return true;
}

void unmap_ipv4(IpAddress* address) {
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (address->v4 || std::memcmp(address->bytes, kMappedPrefix, sizeof kMappedPrefix) != 0) return;
  std::memmove(address->bytes, address->bytes + 12, 4);
  std::memset(address->bytes + 4, 0, 12);
  address->v4 = true;
}

IpNetworkError parse_ip_network(std::string_view text, IpNetwork* out) {
  const std::size_t slash = text.find('/');
  IpNetwork n;
  if (!parse_ip_address(text.substr(0, slash), &n.address)) return IpNetworkError::kBadAddress;
  n.prefix = family_bits(n.address);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        n.prefix > family_bits(n.address))
      return IpNetworkError::kBadPrefix;
  }
  for (unsigned bit = n.prefix; bit < family_bits(n.address); ++bit)
    if (bit_set(n.address, bit)) n.host_bits_set = true;
  *out = n;
  return IpNetworkError::kNone;
}

void clear_host_bits(IpNetwork* network) {
  for (unsigned bit = network->prefix; bit < family_bits(network->address); ++bit)
    network->address.bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  network->host_bits_set = false;
}

bool network_contains(const IpNetwork& network, const IpAddress& address) {
  if (network.address.v4 != address.v4) return false;
  const unsigned whole = network.prefix / 8, rest = network.prefix % 8;
  if (std::memcmp(address.bytes, network.address.bytes, whole) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xffu << (8 - rest));
  return (address.bytes[whole] & mask) == (network.address.bytes[whole] & mask);
}

std::string format_ip_network(const IpNetwork& network) {
  char buffer[INET6_ADDRSTRLEN];
  ::inet_ntop(network.address.v4 ? AF_INET : AF_INET6, network.address.bytes, buffer, sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(network.prefix);
}

}  // namespace vigil
