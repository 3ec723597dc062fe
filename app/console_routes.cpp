#include "app/console_routes.h"

#include <algorithm>
#include <string>
#include <utility>

namespace vigil::app {

namespace {

constexpr std::string_view kIndex = "index.html";

// Only the daemon itself may supply scripts, styles, images and API calls; no inline script,
// no framing (clickjacking on the action buttons).
constexpr std::string_view kSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

net::Response file_response(const ConsoleFile& file) {
  net::Response r = net::Response::bytes(
      200, std::string(console_content_type(file.path)),
      std::string(reinterpret_cast<const char*>(file.data), file.size));
  // Revalidated on every load: a daemon upgrade must never leave an old script talking to a
  // new API. The files are small and served from memory.
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("Content-Security-Policy", std::string(kSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

}  // namespace

const ConsoleFile* find_console_file(std::string_view path) {
  for (const ConsoleFile* f = kConsoleFiles; f->path != nullptr; ++f)
    if (path == f->path) return f;
  return nullptr;
}

std::string_view console_content_type(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},   {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
      {".png", "image/png"},                   {".ico", "image/x-icon"},
      {".json", "application/json"},           {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes)
    if (ends_with(path, ext)) return type;
  return "application/octet-stream";
}

Status register_console_routes(net::HttpServer& server) {
  const ConsoleFile* index = find_console_file(kIndex);
  if (index == nullptr) return Status::Internal("console: index.html is missing from the embedded files");
  Status st = server.route("GET", "/", [index](const net::Request&, net::Responder respond) {
    respond(file_response(*index));
  });
  if (!st.ok()) return st;
  return server.route("GET", "/console/*", [index](const net::Request& req, net::Responder respond) {
    // The path is already percent-decoded; lookup is by exact name in the embedded table, so
    // "../" or anything else not compiled in is simply not found.
    constexpr std::string_view kPrefix = "/console/";
    std::string_view rel = std::string_view(req.path);
    rel.remove_prefix(std::min(rel.size(), kPrefix.size()));
    const ConsoleFile* file = rel.empty() ? index : find_console_file(rel);
    if (file == nullptr) {
      // Not echoing the path: a reflected request path is how a crafted link injects content.
      respond(net::Response::text(404, "no such console file\n"));
      return;
    }
    respond(file_response(*file));
  });
}

}  // namespace vigil::app
