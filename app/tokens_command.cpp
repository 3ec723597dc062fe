#include "app/tokens_command.h"

#include <fmt/format.h>

#include "app/api_client.h"

namespace vigil::app {

int run_tokens(const TokensOptions& opt, std::FILE* out, std::FILE* err) {
  Endpoint endpoint(opt.data_dir, opt.url, opt.token);
  if (opt.action == "list") {
    return print_reply("vigil tokens", endpoint.request("GET", "/api/v1/tokens", {}, ""), opt.json, out, err,
                       [&](simdjson::dom::element doc) {
      constexpr const char* kRow = "{:<24} {:<8} {:<16} {:<30} {:<30} {}\n";
      std::fputs(fmt::format(fmt::runtime(kRow), "NAME", "ROLE", "TENANT", "CREATED", "EXPIRES", "LAST USED").c_str(), out);
      simdjson::dom::array tokens;
      if (doc["tokens"].get_array().get(tokens) != simdjson::SUCCESS) return;
      for (simdjson::dom::element t : tokens) {
        std::string expires = get_str(t, "expires"), used = get_str(t, "last_used");
        std::fputs(fmt::format(fmt::runtime(kRow), get_str(t, "name"), get_str(t, "role"), get_str(t, "tenant"),
                               get_str(t, "created"), expires.empty() ? "never" : expires,
                               used.empty() ? "never" : used).c_str(), out);
      }
    });
  }
  if (opt.action == "create") {
    std::string body = "{\"name\":" + json_quote(opt.name) + ",\"role\":" + json_quote(opt.role);
    if (!opt.tenant.empty()) body += ",\"tenant\":" + json_quote(opt.tenant);
    if (!opt.expires.empty()) body += ",\"expires\":" + json_quote(opt.expires);
    if (opt.expires_in_days > 0) body += ",\"expires_in_days\":" + std::to_string(opt.expires_in_days);
    body += '}';
    return print_reply("vigil tokens", endpoint.request("POST", "/api/v1/tokens", {}, body), opt.json, out, err,
                       [&](simdjson::dom::element doc) {
      // The secret alone on stdout, so that `vigil tokens create ... > file` keeps just it.
      std::fprintf(out, "%s\n", get_str(doc, "token").c_str());
      std::fprintf(err, "vigil tokens: token '%s' created; it is shown only now\n", opt.name.c_str());
    });
  }
  if (opt.action == "revoke") {
    return print_reply("vigil tokens", endpoint.request("DELETE", "/api/v1/tokens/" + url_encode(opt.name), {}, ""),
                       opt.json, out, err, [&](simdjson::dom::element) {
      std::fprintf(out, "revoked %s\n", opt.name.c_str());
    });
  }
  std::fprintf(err, "vigil tokens: unknown action '%s'\n", opt.action.c_str());
  return 2;
}

}  // namespace vigil::app
