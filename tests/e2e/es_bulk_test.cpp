// The `elasticsearch` collector (Elasticsearch's bulk API, issue "Read every log the provinces
// ship"): curl and the official client from npm (@elastic/elasticsearch's bulk helper) ship
// NDJSON; the store holds exactly what `vigil scan` finds in the same documents; a malformed
// document gets its per-item error and the others are kept.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <simdjson.h>

#include "tests/support/alert_keys.h"
#include "tests/support/corpora.h"
#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

class EsBulkTest : public TempDirTest {};

// SigmaHQ's regression events (pretty-printed Windows events, one or a few per file, most of
// which raise an alert), each minified onto one line.
std::vector<std::string> windows_documents() {
  std::vector<std::string> out;
  if (corpora_dir().empty()) return out;
  const fs::path dir = fs::path(corpora_dir()) / "sigma" / "regression_data";
  if (!fs::exists(dir)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  simdjson::dom::parser parser;
  for (const fs::path& f : files) {
    const simdjson::padded_string text(Slurp(f));
    simdjson::dom::document_stream events;
    if (parser.parse_many(text).get(events) != simdjson::SUCCESS) continue;
    for (auto event : events) {  // some files hold several events
      simdjson::dom::element e;
      if (event.get(e) == simdjson::SUCCESS && e.is_object()) out.push_back(simdjson::minify(e));
    }
  }
  return out;
}

TEST_F(EsBulkTest, CurlAndTheOfficialClientShipAndTheStoreEqualsScan) {
  std::vector<std::string> docs = windows_documents();
  if (docs.size() < 100) {
    if (corpora_required()) FAIL() << corpus_missing("sigma/regression_data");
    GTEST_SKIP() << corpus_missing("sigma/regression_data");
  }
  // SigmaHQ's Windows rules: most regression events raise their rule's alert.
  const std::string rules = (fs::path(corpora_dir()) / "sigma" / "rules" / "windows").string();
  Daemon d(dir_, "data_dir: data\nrules: ['" + rules + "']\nmetrics: {listen: '127.0.0.1:0'}\n"
                 "http: {listen: '127.0.0.1:0'}\npipeline: {batch_max_delay_ms: 5}\n"
                 "collectors:\n  - {name: es, type: elasticsearch, listen: '127.0.0.1:0', tenant: hue}\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::uint16_t port = d.port("es");
  ASSERT_NE(port, 0) << d.log();

  // curl: the first half, with one malformed document in the middle.
  const std::size_t half = docs.size() / 2;
  std::string bulk;
  for (std::size_t i = 0; i < half; ++i) {
    bulk += "{\"index\":{\"_index\":\"winlogbeat-8\"}}\n" + docs[i] + "\n";
    if (i == half / 2) bulk += "{\"create\":{\"_index\":\"winlogbeat-8\",\"_id\":\"bad\"}}\n{\"EventID\": 4625,\n";
  }
  Write(dir_ / "bulk.ndjson", bulk);
  const std::string curl_cmd = "curl -sS -H 'Content-Type: application/x-ndjson' --data-binary @" +
                               (dir_ / "bulk.ndjson").string() + " http://127.0.0.1:" + std::to_string(port) +
                               "/_bulk > " + (dir_ / "curl.out").string();
  ASSERT_EQ(std::system(curl_cmd.c_str()), 0);
  const std::string reply = Slurp(dir_ / "curl.out");
  EXPECT_NE(reply.find("\"errors\":true"), std::string::npos) << reply.substr(0, 400);
  EXPECT_NE(reply.find("\"_id\":\"bad\",\"status\":400,\"error\":{\"type\":\"document_parsing_exception\""),
            std::string::npos) << reply.substr(0, 400);
  std::size_t created = 0;
  for (std::size_t at = reply.find("\"status\":201"); at != std::string::npos; at = reply.find("\"status\":201", at + 1))
    ++created;
  EXPECT_EQ(created, half);

  // The official client, the second half.
  std::string second;
  for (std::size_t i = half; i < docs.size(); ++i) second += docs[i] + "\n";
  Write(dir_ / "second.ndjson", second);
  const fs::path npm_dir = fs::path(VIGIL_BINARY_DIR) / "tests" / "npm-es-client";
  const std::string install = "mkdir -p " + npm_dir.string() + " && cd " + npm_dir.string() +
                              " && (test -d node_modules/@elastic/elasticsearch || npm install --no-audit --no-fund "
                              "--silent @elastic/elasticsearch@8 >npm.log 2>&1)";
  if (std::system(install.c_str()) != 0) {
    ADD_FAILURE() << "npm install @elastic/elasticsearch failed: " << Slurp(npm_dir / "npm.log");
  } else {
    fs::copy_file(fs::path(VIGIL_SOURCE_DIR) / "tests" / "e2e" / "es_bulk_client.mjs", npm_dir / "client.mjs",
                  fs::copy_options::overwrite_existing);
    const std::string node_cmd = "cd " + npm_dir.string() + " && node client.mjs http://127.0.0.1:" +
                                 std::to_string(port) + " " + (dir_ / "second.ndjson").string() + " > " +
                                 (dir_ / "node.out").string() + " 2>&1";
    EXPECT_EQ(std::system(node_cmd.c_str()), 0) << Slurp(dir_ / "node.out");
    const std::string out = Slurp(dir_ / "node.out");
    EXPECT_NE(out.find("\"successful\":" + std::to_string(docs.size() - half)), std::string::npos) << out;
    EXPECT_NE(out.find("\"failed\":0"), std::string::npos) << out;
  }
  ASSERT_EQ(d.stop(), 0) << d.log();

  // The store equals `vigil scan` over the documents that were accepted.
  std::string all;
  for (const std::string& doc : docs) all += doc + "\n";
  Write(dir_ / "accepted.ndjson", all);
  RunResult scan = RunVigil("scan --no-summary --rules " + rules + " " + (dir_ / "accepted.ndjson").string(), dir_);
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  const std::vector<std::string> want = scan_alert_keys(scan.out);
  const std::vector<std::string> stored = d.alerts_json();
  EXPECT_GT(want.size(), 0u);
  EXPECT_TRUE(stored_alert_keys(stored) == want) << key_diff(stored_alert_keys(stored), want);
  std::printf("%zu documents (curl %zu plus one malformed, client %zu): %zu alerts stored, %zu from vigil scan\n",
              docs.size(), half, docs.size() - half, stored.size(), want.size());
  ASSERT_FALSE(stored.empty());
  EXPECT_NE(stored[0].find("\"tenant\":\"hue\""), std::string::npos) << stored[0];
}

TEST_F(EsBulkTest, AnswersWhatShippersAskAtStartAndRefusesAMalformedActionLine) {
  Daemon d(dir_, "data_dir: data\nrules: ['@bundled']\nmetrics: {listen: '127.0.0.1:0'}\n"
                 "http: {listen: '127.0.0.1:0'}\n"
                 "collectors:\n  - {name: es, type: elasticsearch, listen: '127.0.0.1:0'}\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::uint16_t port = d.port("es");
  HttpReply info = http_request(port, "GET", "/");
  EXPECT_EQ(info.status, 200);
  EXPECT_NE(info.body.find("\"number\":\"8."), std::string::npos) << info.body;
  EXPECT_NE(info.head.find("X-Elastic-Product: Elasticsearch"), std::string::npos) << info.head;
  EXPECT_EQ(http_request(port, "GET", "/_license").status, 200);
  EXPECT_EQ(http_request(port, "PUT", "/_index_template/winlogbeat-8", "{}").status, 200);
  HttpReply bad = http_request(port, "POST", "/_bulk", "{\"index\":\n{}\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("Malformed action/metadata line"), std::string::npos) << bad.body;
  EXPECT_EQ(http_request(port, "POST", "/winlogbeat/_doc", "{}").status, 404);
  // The console and API stay on the daemon's own server.
  EXPECT_EQ(http_request(d.port("http"), "GET", "/healthz").status, 200);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace vigil::testing
