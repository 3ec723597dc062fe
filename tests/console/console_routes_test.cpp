// The embedded console over a real HttpServer on 127.0.0.1 (port 0): what is compiled in, the
// content types, the security headers, and that every reference between the console's files
// resolves to an embedded file (nothing loaded from elsewhere: it works offline).
#include "app/console_routes.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;

struct Reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One HTTP/1.1 request on a fresh connection (Connection: close); keeps the headers.
Reply Get(std::uint16_t port, const std::string& method, const std::string& target) {
  Reply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return reply;
  }
  const std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  for (std::size_t sent = 0; sent < req.size();) {
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  auto sep = resp.find("\r\n\r\n");
  if (resp.size() < 12 || sep == std::string::npos) return reply;
  reply.status = std::stoi(resp.substr(9, 3));
  reply.head = resp.substr(0, sep);
  reply.body = resp.substr(sep + 4);
  return reply;
}

std::string Header(const Reply& r, const std::string& name) {
  std::regex re("\r\n" + name + ": ([^\r]*)", std::regex::icase);
  std::smatch m;
  return std::regex_search(r.head, m, re) ? m[1].str() : "";
}

class ConsoleRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net::HttpServerOptions opt;
    opt.port = 0;
    auto created = net::HttpServer::create(opt);
    ASSERT_TRUE(created) << created.error().to_string();
    server_ = std::move(*created);
    Status st = app::register_console_routes(*server_);
    ASSERT_TRUE(st.ok()) << st.to_string();
    st = server_->start();
    ASSERT_TRUE(st.ok()) << st.to_string();
    port_ = server_->local_port();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::unique_ptr<net::HttpServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ConsoleRoutesTest, RootServesTheIndexWithSecurityHeaders) {
  Reply r = Get(port_, "GET", "/");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<title>vigil console</title>"), std::string::npos);
  const std::string csp = Header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  // /console/ is the index too.
  Reply again = Get(port_, "GET", "/console/");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, r.body);
}

TEST_F(ConsoleRoutesTest, EveryEmbeddedFileIsServedWithItsBytesAndType) {
  int files = 0;
  for (const app::ConsoleFile* f = app::kConsoleFiles; f->path != nullptr; ++f, ++files) {
    SCOPED_TRACE(f->path);
    Reply r = Get(port_, "GET", std::string("/console/") + f->path);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::string(reinterpret_cast<const char*>(f->data), f->size));
    EXPECT_NE(Header(r, "Content-Type"), "application/octet-stream");
    EXPECT_EQ(Header(r, "Content-Type"), app::console_content_type(f->path));
    // The embedded copy is the source file as it is now (the build re-embeds on change).
    std::ifstream src(fs::path(VIGIL_SOURCE_DIR) / "console" / f->path, std::ios::binary);
    std::stringstream text;
    text << src.rdbuf();
    EXPECT_EQ(text.str(), r.body);
  }
  EXPECT_GE(files, 8);
  EXPECT_EQ(app::console_content_type("js/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(app::console_content_type("console.css"), "text/css; charset=utf-8");
  EXPECT_EQ(app::console_content_type("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(app::console_content_type("README.md"), "application/octet-stream");
  EXPECT_EQ(app::find_console_file("README.md"), nullptr) << "only web files are embedded";
}

TEST_F(ConsoleRoutesTest, UnknownFilesTraversalAndOtherMethodsAreRefused) {
  EXPECT_EQ(Get(port_, "GET", "/console/nope.js").status, 404);
  EXPECT_EQ(Get(port_, "GET", "/console/../app/console_routes.cpp").status, 404);
  EXPECT_EQ(Get(port_, "GET", "/console/%2e%2e/CMakeLists.txt").status, 404);
  EXPECT_EQ(Get(port_, "GET", "/console/js").status, 404);
  EXPECT_EQ(Get(port_, "GET", "/elsewhere").status, 404);
  EXPECT_EQ(Get(port_, "POST", "/").status, 405);
  EXPECT_EQ(Get(port_, "DELETE", "/console/js/app.js").status, 405);
}

// Every src/href in index.html and every relative import in the scripts names an embedded
// file, and nothing points outside the daemon (the console must work with no network).
TEST_F(ConsoleRoutesTest, ReferencesResolveToEmbeddedFilesOnly) {
  std::set<std::string> embedded;
  for (const app::ConsoleFile* f = app::kConsoleFiles; f->path != nullptr; ++f) embedded.insert(f->path);
  int references = 0;
  for (const app::ConsoleFile* f = app::kConsoleFiles; f->path != nullptr; ++f) {
    const std::string path = f->path;
    std::string text(reinterpret_cast<const char*>(f->data), f->size);
    SCOPED_TRACE(path);
    // The SVG namespace is a name, not a download.
    for (std::size_t at; (at = text.find("http://www.w3.org/2000/svg")) != std::string::npos;) text.erase(at, 26);
    EXPECT_EQ(text.find("http://"), std::string::npos) << "no absolute URLs (offline console)";
    EXPECT_EQ(text.find("https://"), std::string::npos) << "no absolute URLs (offline console)";
    EXPECT_EQ(text.find("//cdn"), std::string::npos);
    if (path == "index.html") {
      std::regex attr(R"re((?:src|href)="([^"#]+)")re");
      for (std::sregex_iterator it(text.begin(), text.end(), attr), end; it != end; ++it, ++references) {
        const std::string url = (*it)[1].str();
        ASSERT_EQ(url.rfind("/console/", 0), 0u) << url;
        EXPECT_TRUE(embedded.count(url.substr(9))) << url << " is not embedded";
      }
    }
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".js") == 0) {
      const std::string dir = path.substr(0, path.rfind('/') + 1);
      std::regex import(R"re(from '\./([^']+)')re");
      for (std::sregex_iterator it(text.begin(), text.end(), import), end; it != end; ++it, ++references)
        EXPECT_TRUE(embedded.count(dir + (*it)[1].str())) << (*it)[1].str() << " is not embedded";
    }
  }
  EXPECT_GE(references, 8);
}

}  // namespace
}  // namespace vigil::testing
