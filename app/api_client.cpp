#include "app/api_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "core/json_text.h"

namespace vigil::app {

std::string env_or(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Percent-encodes a query value.
std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(static_cast<char>(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}


// One request to the daemon's API (plain HTTP; the daemon's address from --url/VIGIL_URL, else
// the default configuration's 127.0.0.1:8080).
Result<Reply> call_api(const std::string& url, const std::string& token, const std::string& method,
                       const std::string& target, const std::string& body) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0)
    return Error(Status::Unsupported("vigil speaks plain HTTP to its API; for a TLS daemon use curl or a local proxy"));
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host = rest, port = "80";
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    const http::verb verb = method == "POST" ? http::verb::post : method == "DELETE" ? http::verb::delete_ : http::verb::get;
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, host);
    req.set(http::field::authorization, "Bearer " + token);
    if (method == "POST") {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return Reply{parser.get().result_int(), parser.get().body()};
  } catch (const std::exception& e) {
    return Error(Status::IoError("cannot reach the vigil API at " + url + ": " + e.what()));
  }
}

Endpoint::Endpoint(std::string data_dir, std::string url, std::string token)
    : data_dir_(std::move(data_dir)), url_(env_or(url, "VIGIL_URL")), token_(env_or(token, "VIGIL_TOKEN")) {
  if (url_.empty()) url_ = "http://127.0.0.1:8080";
}

Endpoint::~Endpoint() = default;

Result<Reply> Endpoint::request(const std::string& method, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& query, const std::string& body) {
  if (remote()) {
    std::string target = path;
    for (std::size_t i = 0; i < query.size(); ++i)
      target += (i ? "&" : "?") + query[i].first + "=" + url_encode(query[i].second);
    return call_api(url_, token_, method, target, body);
  }
  const bool write = method != "GET";
  if (!store_) {
    if (write) {
      std::error_code ec;
      if (!std::filesystem::exists(std::filesystem::path(data_dir_) / "CURRENT", ec))
        return Error(Status::NotFound("no alert store in '" + data_dir_ + "' (see --data-dir)"));
      storage::StoreOptions o;
      o.dir = data_dir_;
      auto s = storage::AlertStore::open(o);
      if (!s) {
        if (s.error().message().find("another vigil process") != std::string::npos)
          return Error(Status::InvalidArgument(
              "the daemon is running on " + data_dir_ + ": make changes through its API with --token (or "
              "VIGIL_TOKEN; the first admin token is in " + data_dir_ + "/admin.token) and --url"));
        return Error(s.error());
      }
      store_ = std::move(*s);
    } else {
      auto s = storage::AlertStore::open_read_only(data_dir_);
      if (!s) return Error(s.error());
      store_ = std::move(*s);
    }
    // Tokens are managed here too (`vigil tokens` on a stopped daemon's data directory).
    auto tokens = api::TokenStore::open(*store_);
    if (!tokens) return Error(tokens.error());
    tokens_ = std::move(*tokens);
    api_ = std::make_unique<api::AnalystApi>(api::ApiOptions{}, *store_, tokens_.get(), api::ApiHooks{});
  }
  net::Request req;
  req.method = method;
  req.path = path;
  req.target = path;
  req.query = query;
  req.body = body;
  api::Principal who;
  const char* user = std::getenv("USER");
  who.name = std::string("local:") + (user ? user : "unknown");
  who.role = api::Role::kAdmin;
  who.tenant = "*";
  net::Response r = api_->handle(req, who);
  return Reply{r.status, std::move(r.body)};
}

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

void absent_is_default(simdjson::error_code) {}

std::string get_str(simdjson::dom::element e, std::string_view k) {
  std::string_view v;
  if (e.at_key(k).get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return {};
}

int print_reply(const char* command, const Result<Reply>& reply, bool json, std::FILE* out, std::FILE* err,
                const std::function<void(simdjson::dom::element)>& table) {
  if (!reply) {
    std::fprintf(err, "%s: %s\n", command, reply.error().message().c_str());
    return 2;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply->body).get(doc) != simdjson::SUCCESS) {
    std::fprintf(err, "%s: HTTP %u with a body that is not JSON: %.200s\n", command, reply->status, reply->body.c_str());
    return 1;
  }
  if (reply->status != 200) {
    std::fprintf(err, "%s: %s (HTTP %u)\n", command, get_str(doc, "error").c_str(), reply->status);
    return 1;
  }
  if (json) {
    std::fwrite(reply->body.data(), 1, reply->body.size(), out);
    std::fputc('\n', out);
  } else {
    table(doc);
  }
  return 0;
}

}  // namespace vigil::app
