// The console in a real browser against the real daemon: starts `vigil run` (port 0), feeds
// samples/sample.log through HTTP ingest so there are alerts, then runs console.spec.mjs, which
// drives headless Debian chromium with playwright-core: login, filters, alert detail with the
// highlighted evidence, close as false positive with a note, history, bulk, live refresh,
// charts, ingest health, the rule tester. Screenshots go to <build>/console-screenshots.
//
// Needs node, npm (for `npm ci` of tests/console when node_modules is missing) and chromium
// (scripts/install-deps.sh installs them); skips with the reason when one cannot be had.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

const fs::path kTestDir = fs::path(VIGIL_SOURCE_DIR) / "tests" / "console";

// Runs a shell command; returns its exit code and appends its output to *out.
int Shell(const std::string& command, std::string* out) {
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string FindChromium() {
  if (const char* env = std::getenv("VIGIL_CHROMIUM"); env != nullptr && *env)
    return ::access(env, X_OK) == 0 ? env : "";
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (::access(candidate, X_OK) == 0) return candidate;
  return "";
}

class ConsoleBrowserTest : public TempDirTest {};

TEST_F(ConsoleBrowserTest, AnalystWorkflowInHeadlessChromium) {
  std::string out;
  if (Shell("node --version", &out) != 0)
    GTEST_SKIP() << "node is not installed (scripts/install-deps.sh installs nodejs): " << out;
  const std::string chromium = FindChromium();
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it; or set VIGIL_CHROMIUM)";
  if (!fs::exists(kTestDir / "node_modules" / "playwright-core" / "package.json")) {
    out.clear();
    if (Shell("npm ci --prefix '" + kTestDir.string() + "' --no-audit --no-fund", &out) != 0)
      GTEST_SKIP() << "cannot install playwright-core with `npm ci` in " << kTestDir << ":\n" << out;
  }

  Daemon d(dir_,
           "data_dir: data\n"
           "rules: ['@bundled']\n"
           "metrics: {listen: '127.0.0.1:0'}\n"
           "http: {listen: '127.0.0.1:0'}\n"
           "pipeline: {batch_max_delay_ms: 5}\n"
           "collectors:\n"
           "  - {name: web-ingest, type: http}\n");
  ASSERT_TRUE(d.start()) << d.log();
  const std::uint16_t port = d.port("http");
  ASSERT_NE(port, 0) << d.log();
  const fs::path token_file = dir_ / "data" / "admin.token";
  ASSERT_TRUE(fs::exists(token_file)) << "the first start writes the admin token to " << token_file << "\n" << d.log();
  std::string token = Slurp(token_file);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();

  // Two tenants, so the tenant filter and the per-tenant chart have something to tell apart.
  // Each reply comes once the batch's alerts are committed.
  const std::string sample = Slurp(fs::path(VIGIL_SOURCE_DIR) / "samples" / "sample.log");
  std::istringstream in(sample);
  std::string line, first_half, second_half;
  for (int i = 0; std::getline(in, line); ++i) (i % 2 ? second_half : first_half) += line + "\n";
  for (const auto& [tenant, body] : {std::pair{"alpha", first_half}, std::pair{"beta", second_half}}) {
    HttpReply r = http_request(port, "POST", std::string("/ingest?tenant=") + tenant, body);
    ASSERT_EQ(r.status, 200) << r.body << "\n" << d.log();
  }

  const fs::path shots = fs::path(VIGIL_BINARY_DIR) / "console-screenshots";
  fs::create_directories(shots);
  out.clear();
  const std::string command = "cd '" + kTestDir.string() + "' && VIGIL_URL=http://127.0.0.1:" + std::to_string(port) +
                              " VIGIL_TOKEN='" + token + "' VIGIL_CHROMIUM='" + chromium +
                              "' SCREENSHOT_DIR='" + shots.string() + "' node console.spec.mjs";
  const int code = Shell(command, &out);
  std::printf("%s", out.c_str());
  EXPECT_EQ(code, 0) << "console.spec.mjs failed (output above; screenshots in " << shots << ")\n--- daemon log ---\n"
                     << d.log();
  EXPECT_EQ(d.stop(), 0) << d.log();
}

}  // namespace
}  // namespace vigil::testing
