#pragma once
// A small synchronous HTTP client for the server tests: Beast over real loopback sockets.
// Blocking calls are safe because every test arms alarm() as a watchdog (a hung server fails
// the test program instead of stalling the suite).
#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace vigil::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

using HttpResponse = http::response<http::string_body>;

// Kills the test program if a test hangs (a blocking read on a server that never answers).
class WatchdogTest : public ::testing::Test {
 protected:
  // Well beyond the 60 s waits (tests/support/wait.h): slowness fails an assertion, a hang this.
  void SetUp() override { ::alarm(180); }
  void TearDown() override { ::alarm(0); }
};

// One plain TCP connection to 127.0.0.1:port.
class TestConnection {
 public:
  explicit TestConnection(unsigned short port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  void send(const std::string& method, const std::string& target, const std::string& body = "",
            std::initializer_list<std::pair<std::string, std::string>> headers = {}) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
  }

  // The next response, or nullopt when the connection ends first (error in last_error()).
  std::optional<HttpResponse> read() {
    HttpResponse res;
    boost::system::error_code ec;
    http::read(socket_, buffer_, res, ec);
    last_error_ = ec;
    if (ec) return std::nullopt;
    return res;
  }

  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                       std::initializer_list<std::pair<std::string, std::string>> headers = {}) {
    send(method, target, body, headers);
    auto res = read();
    EXPECT_TRUE(res.has_value()) << "no response to " << method << " " << target << ": " << last_error_.message();
    return res.value_or(HttpResponse{});
  }

  // True when the server closes the connection (reads until end of stream, discarding bytes).
  bool closed_by_server() {
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      socket_.read_some(asio::buffer(buf), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
  }

  unsigned short local_port() const { return socket_.local_endpoint().port(); }
  boost::system::error_code last_error() const { return last_error_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  boost::system::error_code last_error_;
};

}  // namespace vigil::testing
