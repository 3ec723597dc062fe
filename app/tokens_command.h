#pragma once
// `vigil tokens list|create|revoke`: API tokens, over the daemon's API (--token/VIGIL_TOKEN) or
// on a stopped daemon's data directory (the way back in when every admin token is lost).
#include <cstdio>
#include <string>

namespace vigil::app {

struct TokensOptions {
  std::string action;  // "list", "create", "revoke"
  std::string data_dir = "./vigil-data";
  std::string url, token;
  bool json = false;
  std::string name;            // create, revoke
  std::string role = "viewer"; // create
  std::string tenant;          // create: "" = the caller's own tenant
  std::string expires;         // create: RFC 3339 time
  int expires_in_days = 0;     // create: 0 = no expiry unless --expires
};

int run_tokens(const TokensOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
