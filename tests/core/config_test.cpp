// The daemon configuration: the embedded default, every section, and errors with file:line.
#include <gtest/gtest.h>

#include "core/config.h"

namespace vigil {
namespace {

TEST(Config, EmbeddedDefaultIsTheDesignDefault) {
  auto c = default_config();
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->data_dir, "./vigil-data");
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0], "@bundled");
  EXPECT_EQ(c->metrics_listen.text(), "127.0.0.1:9464");
  EXPECT_EQ(c->http_listen.text(), "127.0.0.1:8080");
  ASSERT_EQ(c->collectors.size(), 3u);
  EXPECT_EQ(c->collectors[0].kind, CollectorKind::kUdp);
  EXPECT_EQ(c->collectors[0].listen.text(), "127.0.0.1:5514");
  EXPECT_EQ(c->collectors[1].kind, CollectorKind::kTcp);
  EXPECT_EQ(c->collectors[1].listen.text(), "127.0.0.1:5514");
  EXPECT_EQ(c->collectors[2].kind, CollectorKind::kHttp);
}

TEST(Config, EverySection) {
  auto c = parse_config(R"(
data_dir: /var/lib/vigil
rules: [/etc/vigil/rules, "@bundled"]
pipeline: {matcher_threads: 4, max_in_flight_batches: 8, batch_max_records: 100, batch_max_delay_ms: 5, max_record_bytes: 65536}
store: {sync: false, retention_days: 30}
metrics: {listen: "0.0.0.0:9999"}
http: {listen: ":8443", tls: {cert: c.pem, key: k.pem}}
collectors:
  - {name: fw, type: tls, listen: "[::1]:6514", tls: {cert: c.pem, key: k.pem, ca: ca.pem}, tenant: hanoi, system: dc-fw, format: kv, logsource: {product: fortigate}}
  - {name: auth, type: file, paths: /var/log/auth.log, poll_interval_ms: 50}
  - {name: ingest, type: http, token: s3cret}
sources:
  - {cidr: 10.1.0.0/16, tenant: hue, system: dvc}
  - {host: "web-*", tenant: hue, logsource: {category: webserver}}
)", "t.yml");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->data_dir, "/var/lib/vigil");
  EXPECT_EQ(c->rules.size(), 2u);
  EXPECT_EQ(c->matcher_threads, 4u);
  EXPECT_EQ(c->max_in_flight_batches, 8u);
  EXPECT_EQ(c->batch_max_records, 100u);
  EXPECT_EQ(c->batch_max_delay_ms, 5u);
  EXPECT_EQ(c->max_record_bytes, 65536u);
  EXPECT_FALSE(c->store_sync);
  EXPECT_EQ(c->retention_days, 30u);
  EXPECT_EQ(c->metrics_listen.text(), "0.0.0.0:9999");
  EXPECT_EQ(c->http_listen.text(), "0.0.0.0:8443");
  EXPECT_TRUE(c->http_tls.enabled());
  ASSERT_EQ(c->collectors.size(), 3u);
  const CollectorConfig& fw = c->collectors[0];
  EXPECT_EQ(fw.kind, CollectorKind::kTls);
  EXPECT_EQ(fw.listen.host, "::1");
  EXPECT_EQ(fw.listen.port, 6514);
  EXPECT_EQ(fw.tls.ca_file, "ca.pem");
  EXPECT_EQ(fw.source.tenant, "hanoi");
  EXPECT_EQ(fw.source.format, LogFormat::kKeyValue);
  EXPECT_EQ(fw.source.product, "fortigate");
  EXPECT_EQ(c->collectors[1].paths, std::vector<std::string>{"/var/log/auth.log"});
  EXPECT_EQ(c->collectors[2].token, "s3cret");
  ASSERT_EQ(c->sources.size(), 2u);
  EXPECT_EQ(c->sources[0].cidr, "10.1.0.0/16");
  EXPECT_EQ(c->sources[1].host_glob, "web-*");
  EXPECT_EQ(c->sources[1].category, "webserver");
}

// Each bad config names the file, the line and the reason.
TEST(Config, ErrorsNameFileLineAndReason) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"data_dir: x\nrulez: [a]\n", "v.yml:2: unknown key 'rulez'"},
      {"pipeline:\n  matcher_threads: many\n", "v.yml:2: 'matcher_threads' must be an integer"},
      {"pipeline:\n  matcher_threads: 0\n", "v.yml:2: 'matcher_threads' must be between 1 and 256"},
      {"collectors:\n  - type: tcp\n", "v.yml:2: collector 'tcp' needs 'listen"},
      {"collectors:\n  - type: carrier-pigeon\n", "v.yml:2: collector 'type' must be"},
      {"collectors:\n  - {type: tcp, listen: 'localhost'}\n", "is not host:port"},
      {"collectors:\n  - {type: tcp, listen: 'h:99999'}\n", "has no valid port"},
      {"collectors:\n  - {type: tls, listen: ':1'}\n", "needs 'tls: {cert: FILE, key: FILE}'"},
      {"collectors:\n  - {type: file}\n", "needs 'paths"},
      {"collectors:\n  - {type: udp, listen: ':1'}\n  - {type: udp, listen: ':2'}\n", "v.yml:3: two collectors are named 'udp'"},
      {"sources:\n  - {tenant: x}\n", "v.yml:2: a source rule needs exactly one of 'cidr' or 'host'"},
      {"store:\n  sync: maybe\n", "v.yml:2: 'sync' must be true or false"},
      {"collectors:\n  - {type: tcp, listen: ':1', format: xml}\n", "unknown format 'xml'"},
      {"data_dir: [unclosed\n", "v.yml:"},
  };
  for (const Case& c : cases) {
    auto r = parse_config(c.yaml, "v.yml");
    ASSERT_FALSE(r) << c.yaml;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << "for:\n" << c.yaml << "got: " << r.error().message();
  }
}

// Security finding (medium): ingest off loopback took anything from anyone. Without a token it is
// refused at start (with file and line); every other exposed listener is a warning.
TEST(Config, NetworkIngestNeedsATokenAndExposureIsReported) {
  auto open = parse_config("http: {listen: '0.0.0.0:8080'}\ncollectors:\n  - {name: in, type: http}\n", "v.yml");
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message().find("v.yml:3: collector 'in' takes events from the network (http listen "
                                        "0.0.0.0:8080) without a token"),
            std::string::npos)
      << open.error().message();
  EXPECT_TRUE(parse_config("collectors:\n  - {name: in, type: http}\n", "v.yml")) << "loopback needs no token";
  const std::string hash(64, 'a');
  auto bound = parse_config("http: {listen: '0.0.0.0:8080', tls: {cert: c.pem, key: k.pem}}\n"
                            "collectors:\n  - name: in\n    type: http\n    tokens:\n"
                            "      - {tenant: alpha, token_sha256: " + hash + "}\n"
                            "      - {tenant: beta, system: dvc, token_sha256: " + hash + "}\n",
                            "v.yml");
  ASSERT_TRUE(bound) << bound.error().to_string();
  ASSERT_EQ(bound->collectors[0].tokens.size(), 2u);
  EXPECT_EQ(bound->collectors[0].tokens[1].tenant, "beta");
  EXPECT_EQ(bound->collectors[0].tokens[1].system, "dvc");
  EXPECT_TRUE(exposure_warnings(*bound).empty()) << exposure_warnings(*bound)[0];
  for (const char* bad : {"      - {token_sha256: x}\n", "      - {tenant: a}\n", "      - {tenant: a, token_sha256: abc}\n",
                          "      - {tenant: a, token_file: /nonexistent/token}\n"}) {
    auto r = parse_config(std::string("collectors:\n  - name: in\n    type: http\n    tokens:\n") + bad, "v.yml");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("v.yml:5:"), std::string::npos) << r.error().message();
  }

  auto exposed = parse_config(R"(metrics: {listen: "0.0.0.0:9464"}
http: {listen: "0.0.0.0:8080"}
collectors:
  - {name: fw, type: udp, listen: "0.0.0.0:514"}
  - {name: fw-tls, type: tls, listen: "0.0.0.0:6514", tls: {cert: c.pem, key: k.pem}}
  - {name: local, type: tcp, listen: "127.0.0.1:5514"}
  - {name: in, type: http, token: a-long-enough-token}
  - {name: beats, type: elasticsearch, listen: "0.0.0.0:9200", token: a-long-enough-token}
)", "v.yml");
  ASSERT_TRUE(exposed) << exposed.error().to_string();
  const std::vector<std::string> w = exposure_warnings(*exposed);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0].rfind("v.yml:1: metrics on 0.0.0.0:9464 are readable by anyone", 0), 0u) << w[0];
  EXPECT_EQ(w[1].rfind("v.yml:2: the HTTP server on 0.0.0.0:8080 (API, console, ingest) is plain HTTP", 0), 0u) << w[1];
  EXPECT_EQ(w[2].rfind("v.yml:4: collector 'fw' (udp) on 0.0.0.0:514 accepts events from anyone", 0), 0u) << w[2];
  EXPECT_EQ(w[3].rfind("v.yml:5: collector 'fw-tls' (tls) on 0.0.0.0:6514 does not check client certificates", 0), 0u) << w[3];
  EXPECT_EQ(w[4].rfind("v.yml:8: collector 'beats' (elasticsearch) on 0.0.0.0:9200 is plain HTTP off loopback", 0), 0u)
      << w[4];
  // The bulk API off loopback without a token is refused, as ingest is.
  auto open_bulk = parse_config("collectors:\n  - {name: beats, type: elasticsearch, listen: '0.0.0.0:9200'}\n", "v.yml");
  ASSERT_FALSE(open_bulk);
  EXPECT_NE(open_bulk.error().message().find("v.yml:2: collector 'beats' takes events from the network"), std::string::npos)
      << open_bulk.error().message();
}

TEST(Config, MissingFileIsAnIoError) {
  auto r = load_config_file("/nonexistent/vigil.yml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent/vigil.yml"), std::string::npos);
}

}  // namespace
}  // namespace vigil
