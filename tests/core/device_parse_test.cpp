// Tests of the device and server parsers (core/parse/device_parsers.cpp, server_parsers.cpp):
// W3C extended (IIS), Cisco ASA/FTD/IOS, PAN-OS CSV, LEEF, Linux audit, and the Check Point,
// SonicWall and Sophos lines the key=value parser reads. Real lines are read by path from
// ../shared/corpora/device-logs (skipped with a message when absent); short lines written here
// from vendor documentation cover what the corpora lack.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/parse/parser.h"
#include "tests/support/corpora.h"

namespace vigil::parse {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kBeats = "device-logs/beats";

// The lines of a corpus file (without line ends; CR kept, as the record reader keeps it).
std::vector<std::string> corpus_lines(std::string_view relative) {
  std::ifstream in(fs::path(vigil::testing::corpora_dir()) / relative, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

class DeviceParse : public ::testing::Test {
 protected:
  // Parses `record` as one line of stream `source`, as the matcher does: detection by the
  // parser (which remembers W3C directives), then parse().
  Event& parse(std::string_view record, LogFormat format = LogFormat::kUnknown,
               std::string_view source = "test.log") {
    std::string& copy = storage_.emplace_back(record);
    copy.append(64, '\0');
    Event& ev = events_.emplace_back();
    ev.raw = std::string_view(copy.data(), record.size());
    ev.source = source;
    const LogFormat detected = parser_.detect(ev, format);
    usable_ = parser_.parse(format, ev, detected);
    return ev;
  }
  static std::string get(const Event& ev, std::string_view name) {
    const Field* f = ev.fields.find(name);
    return f == nullptr ? "<missing>" : std::string(f->value);
  }
  static bool has(const Event& ev, std::string_view name) { return ev.fields.find(name) != nullptr; }

  RecordParser parser_;
  std::deque<std::string> storage_;
  std::deque<Event> events_;
  bool usable_ = false;
};

// ---- W3C extended / IIS -----------------------------------------------------------------------

TEST_F(DeviceParse, W3cIisCorpusUsesEachBlocksFieldsDirective) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/filebeat/module/iis/access/test/test.log");
  const auto lines = corpus_lines("device-logs/beats/filebeat/module/iis/access/test/test.log");
  ASSERT_EQ(lines.size(), 17u);
  std::vector<Event*> data;
  for (const std::string& line : lines) {
    Event& ev = parse(line);
    EXPECT_EQ(ev.format, LogFormat::kW3c) << line;
    if (line[0] != '#') data.push_back(&ev);
  }
  ASSERT_EQ(data.size(), 5u);
  const Event& first = *data[0];  // date time s-ip cs-method cs-uri-stem cs-uri-query s-port ...
  EXPECT_EQ(get(first, "date"), "2018-01-01");
  EXPECT_EQ(get(first, "time"), "08:09:10");
  EXPECT_EQ(get(first, "timestamp"), "2018-01-01 08:09:10");
  EXPECT_EQ(first.time_unix_ns, 1514794150LL * 1'000'000'000);
  EXPECT_EQ(get(first, "s-ip"), "127.0.0.1");
  EXPECT_EQ(get(first, "cs-method"), "GET");
  EXPECT_EQ(get(first, "cs-uri-stem"), "/");
  EXPECT_EQ(get(first, "cs-uri-query"), "q=100");
  EXPECT_EQ(get(first, "cs-uri"), "/?q=100");
  EXPECT_EQ(get(first, "s-port"), "80");
  EXPECT_FALSE(has(first, "cs-username"));  // "-"
  EXPECT_EQ(get(first, "c-ip"), "81.2.69.143");
  EXPECT_EQ(get(first, "cs-user-agent"),
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:57.0) Gecko/20100101 Firefox/57.0");
  EXPECT_FALSE(has(first, "cs-referer"));
  EXPECT_EQ(get(first, "sc-status"), "200");
  EXPECT_EQ(first.fields.find("sc-status")->kind, ValueKind::kNumber);
  EXPECT_EQ(get(first, "sc-substatus"), "0");
  EXPECT_EQ(get(first, "sc-win32-status"), "0");
  EXPECT_EQ(get(first, "time-taken"), "123");

  const Event& second = *data[1];  // second block: s-sitename ... cs(Cookie) cs(Referer) cs-host
  EXPECT_EQ(get(second, "s-sitename"), "W3SVC1");
  EXPECT_EQ(get(second, "cs-host"), "example.com");
  EXPECT_EQ(get(second, "c-ip"), "127.0.0.1");
  EXPECT_FALSE(has(second, "cs-uri-query"));
  EXPECT_EQ(get(second, "cs-uri"), "/");
  EXPECT_EQ(get(second, "sc-bytes"), "123");
  EXPECT_EQ(get(second, "cs-bytes"), "456");
  EXPECT_EQ(get(second, "time-taken"), "789");

  const Event& third = *data[2];  // third block: s-computername, cs-version
  EXPECT_EQ(get(third, "s-computername"), "MACHINE-NAME");
  EXPECT_EQ(third.host, "MACHINE-NAME");
  EXPECT_EQ(get(third, "cs-version"), "HTTP/1.1");

  for (int i = 0; i < 3; ++i) EXPECT_EQ(data[i]->parse_error, ParseErrorKind::kNone) << i;
  // The last two lines follow the third block's directive (22 columns) but have the first
  // block's 15: counted, and still parsed with the columns they have.
  EXPECT_EQ(data[3]->parse_error, ParseErrorKind::kFieldCount);
  EXPECT_EQ(data[4]->parse_error, ParseErrorKind::kFieldCount);
  EXPECT_EQ(get(*data[3], "date"), "2018-12-31");
}

TEST_F(DeviceParse, W3cWebShellTunnelQueryIsItsOwnField) {
  // The issue's acceptance line, in an IIS log with its directive (written here, IIS layout).
  parse("#Software: Microsoft Internet Information Services 10.0");
  parse("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken");
  const Event& ev = parse(
      "2024-03-05 01:02:03 10.1.1.5 GET /erp/conn.aspx proxy&port=3389&ip=127.0.0.1 443 - "
      "203.0.113.7 python-requests/2.31 - 200 0 0 31");
  EXPECT_EQ(ev.format, LogFormat::kW3c);
  EXPECT_EQ(get(ev, "cs-uri-stem"), "/erp/conn.aspx");
  EXPECT_EQ(get(ev, "cs-uri-query"), "proxy&port=3389&ip=127.0.0.1");
  EXPECT_EQ(get(ev, "cs-uri"), "/erp/conn.aspx?proxy&port=3389&ip=127.0.0.1");
  EXPECT_EQ(get(ev, "c-ip"), "203.0.113.7");
}

TEST_F(DeviceParse, W3cHeaderIsPerStreamAndForgottenOnReset) {
  parse("#Fields: date time c-ip cs-method cs-uri-stem sc-status", LogFormat::kUnknown, "a.log");
  parse("#Fields: date time cs-method cs-uri-stem c-ip sc-status", LogFormat::kUnknown, "b.log");
  const Event& a = parse("2024-01-01 00:00:00 10.0.0.1 GET /a 200", LogFormat::kUnknown, "a.log");
  const Event& b = parse("2024-01-01 00:00:00 POST /b 10.0.0.2 404", LogFormat::kUnknown, "b.log");
  EXPECT_EQ(get(a, "c-ip"), "10.0.0.1");
  EXPECT_EQ(get(a, "cs-uri-stem"), "/a");
  EXPECT_EQ(get(b, "c-ip"), "10.0.0.2");
  EXPECT_EQ(get(b, "cs-method"), "POST");
  // A line of another stream is not W3C because of a.log's directive.
  EXPECT_EQ(parse("hello world", LogFormat::kUnknown, "c.log").format, LogFormat::kPlain);

  parser_.reset_streams();
  // Forgotten: the line is read with IIS's default columns (s-ip third) now.
  EXPECT_EQ(get(parse("2024-01-01 00:00:00 10.0.0.1 GET /a 200", LogFormat::kUnknown, "a.log"), "s-ip"),
            "10.0.0.1");
  parser_.set_w3c_fields("a.log", "#Fields: date time c-ip cs-method cs-uri-stem sc-status");
  EXPECT_EQ(get(parse("2024-01-01 00:00:00 10.0.0.9 GET /z 200", LogFormat::kUnknown, "a.log"), "c-ip"),
            "10.0.0.9");
}

// Found by the oracle (device logs joined into one stream): after an IIS log's #Fields: every
// later line of the stream was read as W3C, so syslog and access-log lines appended to it lost
// their fields (field_count errors) and their alerts.
TEST_F(DeviceParse, LinesOfAnotherFormatAfterAW3cHeaderKeepTheirFormat) {
  parse("#Fields: date time c-ip cs-method cs-uri-stem sc-status", LogFormat::kUnknown, "mixed.log");
  EXPECT_EQ(parse("2024-01-01 00:00:00 10.0.0.1 GET /a 200", LogFormat::kUnknown, "mixed.log").format,
            LogFormat::kW3c);
  const Event& syslog = parse("Dec  7 10:00:01 host sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
                              LogFormat::kUnknown, "mixed.log");
  EXPECT_EQ(syslog.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(syslog, "program"), "sshd");
  const Event& access = parse(R"(10.0.0.2 - - [07/Dec/2026:10:00:00 +0700] "GET /x HTTP/1.1" 200 5 "-" "curl/8")",
                              LogFormat::kUnknown, "mixed.log");
  EXPECT_EQ(access.format, LogFormat::kAccessLog);
  EXPECT_EQ(access.parse_error, ParseErrorKind::kNone);
  // The stream's W3C lines still follow its header.
  EXPECT_EQ(get(parse("2024-01-01 00:00:01 10.0.0.3 POST /b 404", LogFormat::kUnknown, "mixed.log"), "c-ip"),
            "10.0.0.3");
}

TEST_F(DeviceParse, W3cWithoutDirectiveUsesIisDefaultsAndCountsFieldCount) {
  // IIS's default columns, recognised by shape (a method and a path after the date and time).
  const Event& ev = parse(
      "2024-03-05 01:02:03 10.1.1.5 GET /owa/auth.aspx - 443 alice 198.51.100.4 "
      "Mozilla/5.0+(X11) - 302 0 0 7");
  EXPECT_EQ(ev.format, LogFormat::kW3c);
  EXPECT_EQ(get(ev, "cs-username"), "alice");
  EXPECT_EQ(get(ev, "cs-user-agent"), "Mozilla/5.0 (X11)");
  EXPECT_EQ(get(ev, "sc-status"), "302");
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);

  parse("#Fields: date time c-ip cs-method cs-uri-stem sc-status");
  const Event& short_line = parse("2024-01-01 00:00:00 10.0.0.1 GET");
  EXPECT_EQ(short_line.parse_error, ParseErrorKind::kFieldCount);
  EXPECT_EQ(get(short_line, "cs-method"), "GET");
  const Event& long_line = parse("2024-01-01 00:00:00 10.0.0.1 GET /a 200 extra");
  EXPECT_EQ(long_line.parse_error, ParseErrorKind::kFieldCount);
  const Event& directive = parse("#Date: 2024-01-01 00:00:00");
  EXPECT_EQ(get(directive, "w3c_directive"), "Date");
  EXPECT_FALSE(has(directive, "cs-method"));
}

// ---- Cisco ------------------------------------------------------------------------------------

TEST_F(DeviceParse, CiscoAsaCorpusFieldByField) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/cisco/asa/test/sample.log");
  const auto lines = corpus_lines("device-logs/beats/x-pack/filebeat/module/cisco/asa/test/sample.log");
  ASSERT_GE(lines.size(), 17u);
  for (const std::string& line : lines) {
    const Event& ev = parse(line);
    EXPECT_EQ(ev.format, LogFormat::kCisco) << line;
    EXPECT_EQ(get(ev, "facility"), "ASA") << line;
    EXPECT_TRUE(has(ev, "message_id")) << line;
  }
  // Apr 15 2013 09:36:50: %ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016 dst outside:192.0.0.8/53 by access-group "acl_dmz" ...
  const Event& deny = parse(lines[0]);
  EXPECT_EQ(get(deny, "timestamp"), "Apr 15 2013 09:36:50");
  EXPECT_EQ(get(deny, "severity"), "4");
  EXPECT_EQ(get(deny, "message_id"), "106023");
  EXPECT_EQ(get(deny, "action"), "deny");
  EXPECT_EQ(get(deny, "protocol"), "tcp");
  EXPECT_EQ(get(deny, "src_interface"), "dmz");
  EXPECT_EQ(get(deny, "src_ip"), "10.1.2.30");
  EXPECT_EQ(get(deny, "src_port"), "63016");
  EXPECT_EQ(get(deny, "dst_interface"), "outside");
  EXPECT_EQ(get(deny, "dst_ip"), "192.0.0.8");
  EXPECT_EQ(get(deny, "dst_port"), "53");
  EXPECT_EQ(get(deny, "access_list"), "acl_dmz");
  // Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list inside denied udp inside/172.29.2.101(1039) -> outside/192.0.2.10(53) ...
  const Event& acl = parse(lines[3]);
  EXPECT_EQ(acl.host, "INT-FW01");
  EXPECT_EQ(get(acl, "access_list"), "inside");
  EXPECT_EQ(get(acl, "action"), "deny");
  EXPECT_EQ(get(acl, "src_interface"), "inside");
  EXPECT_EQ(get(acl, "src_ip"), "172.29.2.101");
  EXPECT_EQ(get(acl, "src_port"), "1039");
  EXPECT_EQ(get(acl, "dst_ip"), "192.0.2.10");
  EXPECT_EQ(get(acl, "dst_port"), "53");
  // Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: ...
  const Event& session = parse(lines[2]);
  EXPECT_EQ(get(session, "subfacility"), "session");
  EXPECT_EQ(get(session, "action"), "permit");
  EXPECT_FALSE(has(session, "host"));
  // %ASA-6-302013: Built outbound TCP connection 89743274 for outside:192.0.2.43/443 (...) to outside:10.123.3.42/4952 (...)
  const Event& built = parse(lines[6]);
  EXPECT_EQ(get(built, "action"), "built");
  EXPECT_EQ(get(built, "direction"), "outbound");
  EXPECT_EQ(get(built, "connection_id"), "89743274");
  EXPECT_EQ(get(built, "src_ip"), "192.0.2.43");
  EXPECT_EQ(get(built, "dst_ip"), "10.123.3.42");
  EXPECT_EQ(get(built, "dst_port"), "4952");
  // %ASA-6-302016: Teardown UDP connection 89743275 for outside:192.0.2.222/53 to inside:10.123.1.35/52925 duration 1:23:45 bytes 140
  const Event& teardown = parse(lines[11]);
  EXPECT_EQ(get(teardown, "action"), "teardown");
  EXPECT_EQ(get(teardown, "duration"), "1:23:45");
  EXPECT_EQ(get(teardown, "bytes"), "140");
  EXPECT_EQ(get(teardown, "dst_interface"), "inside");
}

TEST_F(DeviceParse, CiscoAsaMessageFamilies) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/cisco/asa/test/additional_messages.log");
  const auto lines =
      corpus_lines("device-logs/beats/x-pack/filebeat/module/cisco/asa/test/additional_messages.log");
  auto find = [&](std::string_view needle) -> const Event& {
    for (const std::string& line : lines)
      if (line.find(needle) != std::string::npos) return parse(line);
    ADD_FAILURE() << "no corpus line with " << needle;
    return parse("");
  };
  const Event& login = find("%ASA-6-605004");
  EXPECT_EQ(login.host, "dev01");
  EXPECT_EQ(get(login, "action"), "deny");
  EXPECT_EQ(get(login, "src_ip"), "10.10.1.212");
  EXPECT_EQ(get(login, "src_port"), "51923");
  EXPECT_EQ(get(login, "dst_interface"), "FCD-FS-LAN");
  EXPECT_EQ(get(login, "dst_ip"), "10.10.1.254");
  EXPECT_EQ(get(login, "dst_port"), "https");
  EXPECT_EQ(get(login, "user"), "*****");
  EXPECT_EQ(get(find("%ASA-6-605005"), "user"), "admin");
  const Event& cmd = find("%ASA-5-111010");
  EXPECT_EQ(get(cmd, "user"), "enable_15");
  EXPECT_EQ(get(cmd, "application"), "CLI");
  EXPECT_EQ(get(cmd, "src_ip"), "10.10.0.87");
  EXPECT_EQ(get(cmd, "command"), "clear");
  EXPECT_EQ(get(find("%ASA-7-111009"), "command"), "show access-list fw211111_access_out brief");
  const Event& priv = find("%ASA-5-502103");
  EXPECT_EQ(get(priv, "user"), "enable_15");
  EXPECT_EQ(get(priv, "new_privilege"), "15");
  const Event& auth = find("%ASA-6-611102");
  EXPECT_EQ(get(auth, "action"), "failure");
  EXPECT_EQ(get(auth, "src_ip"), "10.10.0.87");
  EXPECT_EQ(get(auth, "user"), "admin");
  const Event& vpn = find("%ASA-4-113019");
  EXPECT_EQ(get(vpn, "group"), "91.240.17.178");
  EXPECT_EQ(get(vpn, "session_type"), "LAN-to-LAN");
  EXPECT_EQ(get(vpn, "reason"), "User Requested");
  const Event& anyconnect = find("%ASA-4-722051");
  EXPECT_EQ(get(anyconnect, "group"), "VPN5Policy");
  EXPECT_EQ(get(anyconnect, "user"), "john");
  EXPECT_EQ(get(anyconnect, "src_ip"), "192.168.50.3");
  EXPECT_EQ(get(anyconnect, "assigned_ip"), "192.168.50.5");
  const Event& webvpn = find("%ASA-6-716002: Group another-policy User testuser");
  EXPECT_EQ(get(webvpn, "user"), "testuser");
  EXPECT_EQ(get(webvpn, "src_ip"), "8.8.8.8");
  EXPECT_EQ(get(find("%ASA-4-733100"), "threat_object"), "192.168.2.2");
  const Event& no_conn = find("%ASA-6-106015");
  EXPECT_EQ(get(no_conn, "tcp_flags"), "FIN PSH ACK");
  EXPECT_EQ(get(no_conn, "src_interface"), "out111");
  const Event& inbound = find("%ASA-2-106001");
  EXPECT_EQ(get(inbound, "direction"), "Inbound");
  EXPECT_EQ(get(inbound, "dst_port"), "14322");
  const Event& icmp = find("%ASA-3-106014");
  EXPECT_EQ(get(icmp, "dst_ip"), "10.10.10.10");
  EXPECT_EQ(get(find("%FTD-6-302015"), "src_interface"), "net");
  EXPECT_EQ(get(find("%ASA-6-305011"), "translation"), "dynamic");
}

TEST_F(DeviceParse, CiscoAaaMessagesFromTheGuide) {
  // Layouts from Cisco's ASA syslog message guide (values are ours).
  const Event& ok = parse("<166>Mar  1 10:00:00 fw1 %ASA-6-113004: AAA user authentication Successful : "
                          "server = 10.1.206.27 : user = frank");
  EXPECT_EQ(get(ok, "user"), "frank");
  EXPECT_EQ(get(ok, "server"), "10.1.206.27");
  EXPECT_EQ(get(ok, "action"), "success");
  EXPECT_EQ(get(ok, "syslog_severity"), "6");
  const Event& bad = parse("%ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : "
                           "local database : user = admin : user IP = 192.0.2.10");
  EXPECT_EQ(get(bad, "reason"), "Invalid password");
  EXPECT_EQ(get(bad, "src_ip"), "192.0.2.10");
  EXPECT_EQ(get(bad, "action"), "failure");
  const Event& ips = parse("%ASA-4-400013: IPS:2003 ICMP redirect from 10.4.1.2 to 10.2.1.1 on interface dmz");
  EXPECT_EQ(get(ips, "signature_id"), "2003");
  EXPECT_EQ(get(ips, "signature"), "ICMP redirect");
  EXPECT_EQ(get(ips, "src_ip"), "10.4.1.2");
  EXPECT_EQ(get(ips, "src_interface"), "dmz");
  const Event& vpn = parse("%ASA-4-113039: Group <GroupPolicy_VPN> User <bob> IP <198.51.100.23> AnyConnect parent session started.");
  EXPECT_EQ(get(vpn, "user"), "bob");
  EXPECT_EQ(get(vpn, "group"), "GroupPolicy_VPN");
}

TEST_F(DeviceParse, CiscoFirepowerIntrusionPairs) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/cisco/ftd/test/intrusion.log");
  const auto lines = corpus_lines("device-logs/beats/x-pack/filebeat/module/cisco/ftd/test/intrusion.log");
  ASSERT_FALSE(lines.empty());
  const Event& ev = parse(lines[0]);
  EXPECT_EQ(ev.format, LogFormat::kCisco);
  EXPECT_EQ(get(ev, "facility"), "FTD");
  EXPECT_EQ(get(ev, "message_id"), "430001");
  EXPECT_EQ(get(ev, "src_ip"), "10.0.1.20");
  EXPECT_EQ(get(ev, "dst_ip"), "10.0.100.30");
  EXPECT_EQ(get(ev, "src_port"), "55644");
  EXPECT_EQ(get(ev, "dst_port"), "80");
  EXPECT_EQ(get(ev, "src_interface"), "inside");
  EXPECT_EQ(get(ev, "SID"), "17279");
}

TEST_F(DeviceParse, CiscoIosCorpusAndCommonMessages) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/cisco/ios/test/cisco-ios-syslog.log");
  const auto lines = corpus_lines("device-logs/beats/x-pack/filebeat/module/cisco/ios/test/cisco-ios-syslog.log");
  for (const std::string& line : lines) {
    const Event& ev = parse(line);
    EXPECT_EQ(ev.format, LogFormat::kCisco) << line;
    EXPECT_TRUE(has(ev, "mnemonic")) << line;
  }
  // Feb  8 04:00:48 198.51.100.2 585917: Feb  8 04:00:47.272: %SEC-6-IPACCESSLOGRP: list 177 denied igmp 198.51.100.197 -> 224.0.0.22, 1 packet
  const Event& acl = parse(lines[0]);
  EXPECT_EQ(acl.host, "198.51.100.2");
  EXPECT_EQ(get(acl, "facility"), "SEC");
  EXPECT_EQ(get(acl, "severity"), "6");
  EXPECT_EQ(get(acl, "mnemonic"), "IPACCESSLOGRP");
  EXPECT_EQ(get(acl, "access_list"), "177");
  EXPECT_EQ(get(acl, "action"), "deny");
  EXPECT_EQ(get(acl, "src_ip"), "198.51.100.197");
  EXPECT_EQ(get(acl, "dst_ip"), "224.0.0.22");
  const Event& udp = parse(lines[4]);  // ... list 177 denied udp 198.51.100.195(55250) -> 198.51.100.255(15600), 1 packet
  EXPECT_EQ(get(udp, "src_port"), "55250");
  EXPECT_EQ(get(udp, "dst_port"), "15600");
  for (const std::string& line : lines) {
    if (line.find("LOGIN_SUCCESS") == std::string::npos) continue;
    const Event& login = parse(line);
    EXPECT_EQ(get(login, "facility"), "SEC_LOGIN");
    EXPECT_EQ(get(login, "user"), "john.smith");
    EXPECT_EQ(get(login, "src_ip"), "10.2.55.3");
    EXPECT_EQ(get(login, "dst_port"), "22");
  }
  // Written from Cisco's IOS message reference.
  const Event& failed = parse("<188>Mar  1 10:00:00 rtr1 123: *Mar  1 10:00:00.123: %SEC_LOGIN-4-LOGIN_FAILED: "
                              "Login failed [user: admin] [Source: 203.0.113.5] [localport: 22] [Reason: Login Authentication Failed] at 10:00:00 UTC Mon Mar 1 2021");
  EXPECT_EQ(get(failed, "mnemonic"), "LOGIN_FAILED");
  EXPECT_EQ(get(failed, "user"), "admin");
  EXPECT_EQ(get(failed, "src_ip"), "203.0.113.5");
  EXPECT_EQ(get(failed, "reason"), "Login Authentication Failed");
  const Event& config = parse("%SYS-5-CONFIG_I: Configured from console by netadmin on vty0 (192.0.2.44)");
  EXPECT_EQ(get(config, "user"), "netadmin");
  EXPECT_EQ(get(config, "src_ip"), "192.0.2.44");
  const Event& link = parse("%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down");
  EXPECT_EQ(get(link, "interface"), "GigabitEthernet0/1");
  EXPECT_EQ(get(link, "state"), "down");
}

TEST_F(DeviceParse, CiscoMalformedIsCountedNeverCrashes) {
  const Event& empty = parse("%ASA-6-605004:");
  EXPECT_EQ(empty.format, LogFormat::kCisco);
  EXPECT_EQ(empty.parse_error, ParseErrorKind::kTruncatedRecord);
  const Event& cut = parse("%ASA-6-605004: Login denied from 10.0.0.1/5");
  EXPECT_EQ(get(cut, "message_id"), "605004");
  EXPECT_FALSE(has(cut, "user"));
  EXPECT_EQ(parse("%ASA-9-1: x").format, LogFormat::kPlain);  // severity beyond 7: not a marker
  EXPECT_EQ(parse("100% done").format, LogFormat::kPlain);
  const Event& forced = parse("hello world", LogFormat::kCisco);
  EXPECT_EQ(forced.parse_error, ParseErrorKind::kWrongFormat);
  std::string binary = "%ASA-6-605004: Login denied from ";
  binary += std::string("\0\x01\x02\x03\x04\x05\x06\x07\x08", 9);
  EXPECT_EQ(parse(binary).parse_error, ParseErrorKind::kBinary);
}

// ---- PAN-OS -----------------------------------------------------------------------------------

TEST_F(DeviceParse, PanosTrafficThreatGlobalProtect) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/panw/panos/test/pan_inc_traffic.excerpt.log");
  const auto traffic = corpus_lines("device-logs/beats/x-pack/filebeat/module/panw/panos/test/pan_inc_traffic.excerpt.log");
  ASSERT_FALSE(traffic.empty());
  // Oct 30 09:46:12 1,2012/10/30 09:46:12,01606001116,TRAFFIC,start,1,2012/04/10 04:39:58,192.168.0.2,67.43.156.12,...
  const Event& t = parse(traffic[0]);
  EXPECT_EQ(t.format, LogFormat::kPanos);
  EXPECT_EQ(t.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(t, "type"), "TRAFFIC");
  EXPECT_EQ(get(t, "subtype"), "start");
  EXPECT_EQ(get(t, "serial"), "01606001116");
  EXPECT_EQ(get(t, "generated_time"), "2012/04/10 04:39:58");
  EXPECT_EQ(get(t, "src_ip"), "192.168.0.2");
  EXPECT_EQ(get(t, "dst_ip"), "67.43.156.12");
  EXPECT_EQ(get(t, "rule"), "rule1");
  EXPECT_EQ(get(t, "src_user"), "crusher");
  EXPECT_EQ(get(t, "application"), "web-browsing");
  EXPECT_EQ(get(t, "src_zone"), "trust");
  EXPECT_EQ(get(t, "dst_zone"), "untrust");
  EXPECT_EQ(get(t, "src_port"), "59324");
  EXPECT_EQ(get(t, "dst_port"), "80");
  EXPECT_EQ(get(t, "protocol"), "tcp");
  EXPECT_EQ(get(t, "action"), "allow");
  EXPECT_EQ(get(t, "bytes"), "78");
  EXPECT_FALSE(has(t, "host"));  // no host in this header: "1,2012/..." is the record
  for (const std::string& line : traffic) EXPECT_EQ(parse(line).format, LogFormat::kPanos) << line;

  const auto threat = corpus_lines("device-logs/beats/x-pack/filebeat/module/panw/panos/test/threat.excerpt.log");
  ASSERT_FALSE(threat.empty());
  const Event& th = parse(threat[0]);
  EXPECT_EQ(th.host, "PA-220");
  EXPECT_EQ(get(th, "type"), "THREAT");
  EXPECT_EQ(get(th, "subtype"), "url");
  EXPECT_EQ(get(th, "action"), "block-url");
  // Column 31 is the URL/Filename, 32 the Threat/Content Name with the threat ID in brackets.
  EXPECT_EQ(get(th, "url"), "consent.cmp.oath.com/");
  EXPECT_EQ(get(th, "threat_content_name"), "(9999)");
  EXPECT_EQ(get(th, "threat_id"), "9999");
  EXPECT_EQ(get(th, "category"), "business-and-economy");
  EXPECT_EQ(get(th, "severity"), "informational");
  EXPECT_EQ(get(th, "direction"), "client-to-server");
  EXPECT_EQ(get(th, "nat_src_ip"), "192.168.1.63");

  const auto gp = corpus_lines("device-logs/beats/x-pack/filebeat/module/panw/panos/test/global_protect.log");
  ASSERT_FALSE(gp.empty());
  const Event& g = parse(gp[1]);
  EXPECT_EQ(get(g, "type"), "GLOBALPROTECT");
  EXPECT_EQ(get(g, "event_id"), "gateway-config-release");
  EXPECT_EQ(get(g, "src_user"), "domain\\user");
  EXPECT_EQ(get(g, "machine_name"), "CP935");
  EXPECT_EQ(get(g, "public_ip"), "83.14.113.11");
  EXPECT_EQ(get(g, "client_os_ver"), "Microsoft Windows 10 Pro , 64-bit");  // quoted column
  EXPECT_EQ(get(g, "status"), "success");
  for (const std::string& line : gp) EXPECT_EQ(parse(line).format, LogFormat::kPanos) << line;
}

TEST_F(DeviceParse, PanosSystemConfigAndBadCounts) {
  // Column layouts from the PAN-OS syslog field descriptions (values are ours).
  const Event& sys = parse("1,2024/01/02 03:04:05,001122334455,SYSTEM,auth,0,2024/01/02 03:04:05,,auth-fail,admin,0,0,general,medium,"
                           "\"failed authentication for user 'admin'. Reason: Invalid username or password. From: 203.0.113.9.\",42,0x0");
  EXPECT_EQ(sys.format, LogFormat::kPanos);
  EXPECT_EQ(get(sys, "event_id"), "auth-fail");
  EXPECT_EQ(get(sys, "object"), "admin");
  EXPECT_EQ(get(sys, "severity"), "medium");
  EXPECT_EQ(get(sys, "description").substr(0, 21), "failed authentication");
  const Event& cfg = parse("<14>Jan  2 03:04:05 fw01 1,2024/01/02 03:04:05,001122334455,CONFIG,0,0,2024/01/02 03:04:05,"
                           "192.0.2.7,vsys1,edit,admin,Web,Succeeded, deviceconfig system,43,0x0");
  EXPECT_EQ(cfg.format, LogFormat::kPanos);
  EXPECT_EQ(cfg.host, "fw01");
  EXPECT_EQ(get(cfg, "command"), "edit");
  EXPECT_EQ(get(cfg, "admin"), "admin");
  EXPECT_EQ(get(cfg, "result"), "Succeeded");
  const Event& cut = parse("1,2012/10/30 09:46:12,01606001116,TRAFFIC,start,1,2012/04/10 04:39:58,192.168.0.2");
  EXPECT_EQ(cut.format, LogFormat::kPanos);
  EXPECT_EQ(cut.parse_error, ParseErrorKind::kFieldCount);
  EXPECT_EQ(get(cut, "src_ip"), "192.168.0.2");
  EXPECT_EQ(parse("1,2012/10/30 09:46:12,x,NOTATYPE,a,b").format, LogFormat::kPlain);
  const Event& unterminated = parse("1,2012/10/30 09:46:12,x,SYSTEM,a,\"never closed");
  EXPECT_EQ(unterminated.format, LogFormat::kPanos);
}

// ---- LEEF -------------------------------------------------------------------------------------

TEST_F(DeviceParse, LeefOneAndTwo) {
  // Written from IBM's LEEF specification.
  const Event& v1 = parse("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\t"
                          "sev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black\tdevTime=1700000000000");
  EXPECT_EQ(v1.format, LogFormat::kLeef);
  EXPECT_EQ(get(v1, "leef_version"), "1.0");
  EXPECT_EQ(get(v1, "device_vendor"), "Microsoft");
  EXPECT_EQ(get(v1, "device_product"), "MSExchange");
  EXPECT_EQ(get(v1, "device_version"), "4.0 SP1");
  EXPECT_EQ(get(v1, "event_id"), "15345");
  EXPECT_EQ(get(v1, "src"), "192.0.2.0");
  EXPECT_EQ(get(v1, "usrName"), "joe.black");
  EXPECT_EQ(v1.time_unix_ns, 1700000000000LL * 1'000'000);

  const Event& v2 = parse("<13>Jan 18 11:07:53 host LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^"
                          "sev=5^srcPort=81^dstPort=21^url=/a?b=c=d");
  EXPECT_EQ(v2.format, LogFormat::kLeef);
  EXPECT_EQ(v2.host, "host");
  EXPECT_EQ(get(v2, "leef_version"), "2.0");
  EXPECT_EQ(get(v2, "dst"), "10.0.0.5");
  EXPECT_EQ(get(v2, "url"), "/a?b=c=d");
  const Event& hex = parse("LEEF:2.0|V|P|1|E|x09|src=1.2.3.4\tdst=5.6.7.8");
  EXPECT_EQ(get(hex, "dst"), "5.6.7.8");

  const Event& cut = parse("LEEF:1.0|Microsoft|MSExchange");
  EXPECT_EQ(cut.format, LogFormat::kLeef);
  EXPECT_EQ(cut.parse_error, ParseErrorKind::kTruncatedRecord);
  EXPECT_EQ(get(cut, "device_product"), "MSExchange");
  EXPECT_EQ(parse("LEEF:2.0|V|P|1|E|xZZ|a=b").parse_error, ParseErrorKind::kTruncatedRecord);
}

// ---- Linux audit ------------------------------------------------------------------------------

TEST_F(DeviceParse, AuditdCorpusRecords) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/filebeat/module/auditd/log/test/test.log");
  const auto lines = corpus_lines("device-logs/beats/filebeat/module/auditd/log/test/test.log");
  for (const std::string& line : lines) {
    const Event& ev = parse(line);
    EXPECT_EQ(ev.format, LogFormat::kAuditd) << line;
    EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone) << line;
  }
  auto find = [&](std::string_view needle) -> const Event& {
    for (const std::string& line : lines)
      if (line.find(needle) != std::string::npos) return parse(line);
    ADD_FAILURE() << "no corpus line with " << needle;
    return parse("");
  };
  const Event& sys = find("type=SYSCALL msg=audit(1485893834.891:18877199)");
  EXPECT_EQ(get(sys, "type"), "SYSCALL");
  EXPECT_EQ(get(sys, "msg"), "audit(1485893834.891:18877199)");
  EXPECT_EQ(get(sys, "audit_timestamp"), "1485893834.891");
  EXPECT_EQ(get(sys, "audit_serial"), "18877199");
  EXPECT_EQ(sys.time_unix_ns, 1485893834891000000LL);
  EXPECT_EQ(get(sys, "syscall"), "44");
  EXPECT_EQ(get(sys, "a1"), "7f564b2672a0");  // a syscall argument is a number, never decoded
  EXPECT_EQ(get(sys, "comm"), "charon");
  EXPECT_EQ(get(sys, "exe"), "/usr/libexec/strongswan/charon (deleted)");
  EXPECT_EQ(get(sys, "key"), "(null)");
  EXPECT_EQ(get(sys, "ses"), "4294967295");

  const Event& cmd = find("type=USER_CMD");
  EXPECT_EQ(get(cmd, "cwd"), "/");
  EXPECT_EQ(get(cmd, "cmd").substr(0, 41), "/usr/lib64/nagios/plugins/check_asterisk_");
  EXPECT_EQ(get(cmd, "res"), "success");
  EXPECT_EQ(get(cmd, "auid"), "700");

  const Event& crypto = find("type=CRYPTO_SESSION");
  EXPECT_EQ(get(crypto, "exe"), "/usr/sbin/sshd");
  EXPECT_EQ(get(crypto, "addr"), "96.241.146.97");
  EXPECT_EQ(get(crypto, "op"), "start");

  EXPECT_EQ(get(find("proctitle=737368643A"), "proctitle"), "sshd: burn [priv]");
  EXPECT_EQ(get(find("proctitle=\"bash\""), "proctitle"), "bash");
}

TEST_F(DeviceParse, AuditdExecveSyslogEnrichedAndMalformed) {
  // Written from the audit record formats (values are ours).
  const Event& execve = parse("type=EXECVE msg=audit(1700000000.123:42): argc=3 a0=\"chmod\" a1=2B78 a2=2F746D702F782079");
  EXPECT_EQ(get(execve, "a0"), "chmod");
  EXPECT_EQ(get(execve, "a1"), "+x");
  EXPECT_EQ(get(execve, "a2"), "/tmp/x y");
  EXPECT_EQ(get(execve, "argc"), "3");

  const Event& via_syslog = parse("<14>Jan  2 03:04:05 web01 audispd: type=EXECVE msg=audit(1700000000.123:43): argc=1 a0=\"id\"");
  EXPECT_EQ(via_syslog.format, LogFormat::kAuditd);
  EXPECT_EQ(via_syslog.host, "web01");
  EXPECT_EQ(get(via_syslog, "program"), "audispd");
  EXPECT_EQ(get(via_syslog, "type"), "EXECVE");
  EXPECT_EQ(get(via_syslog, "a0"), "id");

  const Event& enriched = parse("node=db1 type=SYSCALL msg=audit(1700000000.5:44): arch=c000003e syscall=319 "
                                "comm=\"x\" exe=\"/usr/bin/ecasound\" key=(null)\x1d" "ARCH=x86_64 SYSCALL=memfd_create AUID=\"root\"");
  EXPECT_EQ(enriched.format, LogFormat::kAuditd);
  EXPECT_EQ(enriched.host, "db1");
  EXPECT_EQ(get(enriched, "SYSCALL"), "memfd_create");
  EXPECT_EQ(get(enriched, "AUID"), "root");

  const Event& cut = parse("type=SYSCALL msg=audit(1485893834.891:188");
  EXPECT_EQ(cut.format, LogFormat::kAuditd);
  EXPECT_EQ(cut.parse_error, ParseErrorKind::kTruncatedRecord);
  EXPECT_EQ(get(cut, "type"), "SYSCALL");
  const Event& open_quote = parse("type=USER_LOGIN msg=audit(1.0:1): pid=1 msg='op=login acct=\"root");
  EXPECT_EQ(open_quote.parse_error, ParseErrorKind::kTruncatedRecord);
  EXPECT_EQ(get(open_quote, "op"), "login");
  EXPECT_EQ(parse("type=EXECVE msg=audit(x:1): a0=41", LogFormat::kAuditd).parse_error,
            ParseErrorKind::kTruncatedRecord);
}

TEST_F(DeviceParse, ValuesDifferFromRawOnlyWhereDecoded) {
  EXPECT_TRUE(values_may_differ_from_raw(LogFormat::kAuditd, "type=EXECVE msg=audit(1.0:1): a0=2F62696E"));
  EXPECT_FALSE(values_may_differ_from_raw(LogFormat::kAuditd, "type=SYSCALL msg=audit(1.0:1): uid=0 ses=4294967295"));
  EXPECT_TRUE(values_may_differ_from_raw(LogFormat::kW3c, "2024-01-01 00:00:00 GET / - Mozilla/5.0+(X11)"));
  EXPECT_FALSE(values_may_differ_from_raw(LogFormat::kRfc3164, "Jan  1 00:00:00 h p: a\\b"));
}

// ---- key=value devices ------------------------------------------------------------------------

TEST_F(DeviceParse, CheckPointSonicWallSophosOnTheKvParser) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/x-pack/filebeat/module/checkpoint/firewall/test/checkpoint_with_time.log");
  const auto cp = corpus_lines("device-logs/beats/x-pack/filebeat/module/checkpoint/firewall/test/checkpoint_with_time.log");
  ASSERT_EQ(cp.size(), 2u);
  const Event& c = parse(cp[0]);
  EXPECT_EQ(c.format, LogFormat::kKeyValue);
  EXPECT_EQ(c.host, "gw-da58d3");
  EXPECT_EQ(get(c, "program"), "CheckPoint");
  EXPECT_EQ(get(c, "action"), "Accept");
  EXPECT_EQ(get(c, "src"), "192.168.1.100");
  EXPECT_EQ(get(c, "dst"), "192.168.1.153");
  EXPECT_EQ(get(c, "s_port"), "43103");
  EXPECT_EQ(get(c, "service"), "514");
  EXPECT_EQ(get(c, "product"), "VPN-1 & FireWall-1");
  EXPECT_EQ(get(c, "__policy_id_tag").find("policy_name=Standard]"), get(c, "__policy_id_tag").size() - 21);
  EXPECT_EQ(get(parse(cp[1]), "action_reason"), "Dropped by multiportal infrastructure");

  const auto sw = corpus_lines("device-logs/beats/x-pack/filebeat/module/sonicwall/firewall/test/general.log");
  ASSERT_FALSE(sw.empty());
  const Event& s = parse(sw[1]);
  EXPECT_EQ(s.format, LogFormat::kKeyValue);
  EXPECT_EQ(get(s, "msg"), "Administrator login denied due to bad credentials");
  EXPECT_EQ(get(s, "src_ip"), "2.2.2.2");
  EXPECT_EQ(get(s, "src_port"), "36701");
  EXPECT_EQ(get(s, "src_interface"), "WAN");
  EXPECT_EQ(get(s, "dst_ip"), "1.1.1.1");
  EXPECT_EQ(get(s, "dst_port"), "50000");
  EXPECT_EQ(get(s, "time"), "2007-01-03 14:48:07");

  const auto sophos = corpus_lines("device-logs/beats/x-pack/filebeat/module/sophos/xg/test/idp.log");
  ASSERT_FALSE(sophos.empty());
  const Event& x = parse(sophos[0]);  // CRLF line ends
  EXPECT_EQ(x.format, LogFormat::kKeyValue);
  EXPECT_EQ(get(x, "device_name"), "XG230");
  EXPECT_EQ(get(x, "log_type"), "IDP");
  EXPECT_EQ(get(x, "src_ip"), "67.43.156.12");
  EXPECT_EQ(get(x, "dst_ip"), "172.16.68.20");
  EXPECT_EQ(get(x, "dst_port"), "80");
  EXPECT_EQ(get(x, "user_name"), "");
  EXPECT_EQ(get(x, "signature_msg"), "SERVER-WEBAPP bad HTTP 1.1 request - potential worm attack");
  EXPECT_EQ(get(x, "target"), "Server");  // the last value, before the CR
}

// ---- robustness -------------------------------------------------------------------------------

TEST_F(DeviceParse, TruncatedAndCorruptedCorpusLinesNeverCrash) {
  VIGIL_REQUIRE_CORPUS(kBeats);
  const char* files[] = {
      "device-logs/beats/filebeat/module/iis/access/test/test.log",
      "device-logs/beats/x-pack/filebeat/module/cisco/asa/test/sample.log",
      "device-logs/beats/x-pack/filebeat/module/cisco/asa/test/additional_messages.log",
      "device-logs/beats/x-pack/filebeat/module/cisco/ios/test/cisco-ios-syslog.log",
      "device-logs/beats/x-pack/filebeat/module/panw/panos/test/threat.excerpt.log",
      "device-logs/beats/x-pack/filebeat/module/panw/panos/test/global_protect.log",
      "device-logs/beats/filebeat/module/auditd/log/test/test.log",
      "device-logs/beats/x-pack/filebeat/module/checkpoint/firewall/test/checkpoint_with_time.log",
  };
  std::mt19937 rng(17);
  std::size_t records = 0;
  for (const char* file : files) {
    for (const std::string& line : corpus_lines(file)) {
      for (std::size_t cut = 0; cut <= line.size(); cut += 1 + line.size() / 40) {
        for (LogFormat f : {LogFormat::kUnknown, LogFormat::kW3c, LogFormat::kCisco, LogFormat::kPanos,
                            LogFormat::kLeef, LogFormat::kAuditd}) {
          parse(std::string_view(line).substr(0, cut), f);
          ++records;
        }
      }
      std::string flipped = line;
      for (int i = 0; i < 8 && !flipped.empty(); ++i) flipped[rng() % flipped.size()] = static_cast<char>(rng());
      parse(flipped);
      ++records;
    }
    events_.clear();
    storage_.clear();
  }
  EXPECT_GT(records, 1000u);
}

// ---- Error logs on plain text (nginx, Apache, PostgreSQL) --------------------------------------

TEST_F(DeviceParse, NginxApachePostgresErrorLogPrefixesGiveFields) {
  VIGIL_REQUIRE_CORPUS("device-logs/beats/filebeat/module/nginx/error/test/error.log");
  const auto nginx = corpus_lines("device-logs/beats/filebeat/module/nginx/error/test/error.log");
  ASSERT_FALSE(nginx.empty());
  const Event& n = parse(nginx[0]);
  EXPECT_EQ(n.format, LogFormat::kPlain);
  EXPECT_EQ(get(n, "message"), nginx[0]);  // the whole line stays the message
  EXPECT_EQ(get(n, "level"), "error");
  EXPECT_EQ(get(n, "pid"), "54053");
  EXPECT_EQ(get(n, "client_ip"), "127.0.0.1");
  EXPECT_EQ(get(n, "server"), "localhost");
  EXPECT_EQ(get(n, "request"), "GET /favicon.ico HTTP/1.1");
  EXPECT_EQ(get(n, "request_host"), "localhost:8080");

  const auto apache = corpus_lines("device-logs/beats/filebeat/module/apache/error/test/test.log");
  ASSERT_EQ(apache.size(), 3u);
  const Event& a22 = parse(apache[0]);  // Apache 2.2: "[date] [error] [client ip] ..."
  EXPECT_EQ(get(a22, "level"), "error");
  EXPECT_FALSE(has(a22, "module"));
  EXPECT_EQ(get(a22, "client_ip"), "192.168.33.1");
  const Event& a24 = parse(apache[2]);  // Apache 2.4: "[core:error] [pid N:tid M] [client ip]"
  EXPECT_EQ(get(a24, "module"), "core");
  EXPECT_EQ(get(a24, "level"), "error");
  EXPECT_EQ(get(a24, "pid"), "35708");
  EXPECT_EQ(get(a24, "client_ip"), "72.15.99.187");
  const Event& ah = parse("[Mon Dec 07 10:25:00.123456 2026] [core:error] [pid 9001:tid 1] [client 203.0.113.76:50123] AH10244: invalid URI path (/cgi-bin/.%2e/.%2e/etc/passwd)");
  EXPECT_EQ(get(ah, "client_ip"), "203.0.113.76");
  EXPECT_EQ(get(ah, "client_port"), "50123");
  EXPECT_EQ(get(ah, "error_code"), "AH10244");

  const auto pg = corpus_lines("device-logs/beats/filebeat/module/postgresql/log/test/postgresql-11.4.log");
  ASSERT_FALSE(pg.empty());
  const Event& p = parse(pg[0]);
  EXPECT_EQ(get(p, "level"), "LOG");
  EXPECT_EQ(get(p, "pid"), "25");
  const Event& pu = parse("2026-12-07 10:34:00.123 UTC [9701] postgres@dvc FATAL:  password authentication failed for user \"postgres\"");
  EXPECT_EQ(get(pu, "level"), "FATAL");
  EXPECT_EQ(get(pu, "user"), "postgres");
  EXPECT_EQ(get(pu, "database"), "dvc");

  // Other plain text gets only its message, whatever brackets or digits it starts with.
  for (const char* other : {"[INFO] build finished in 3 s", "2015-10-18 18:01:47,978 INFO [main] started",
                            "2026/12/07 not an nginx line", "[Mon Dec 26 16:22:08 2016] [verbose] x"}) {
    const Event& o = parse(other);
    EXPECT_EQ(get(o, "message"), other);
    EXPECT_FALSE(has(o, "level")) << other;
  }
}


// Regression: the raw-record shortcut (values_may_differ_from_raw) looked at the first three
// characters after '=' and took "proctitle=7368..." (decimal digits first) for a number, so a
// rule on the decoded command line never saw it.
TEST_F(DeviceParse, AuditdHexValueStartingWithDecimalDigitsIsSeenAsEncoded) {
  const std::string proctitle =
      "type=PROCTITLE msg=audit(1796630402.000:5000): proctitle=7368002D630069640A";
  EXPECT_TRUE(values_may_differ_from_raw(LogFormat::kAuditd, proctitle));
  const std::string execve = "type=EXECVE msg=audit(1796630402.000:5001): argc=2 a0=6E63 a1=2D65";
  EXPECT_TRUE(values_may_differ_from_raw(LogFormat::kAuditd, execve));
  // Numbers in keys auditd never encodes, and quoted values, do not count.
  const std::string plain =
      "type=SYSCALL msg=audit(1796630402.000:5002): arch=c000003e syscall=59 ses=4294967295 "
      "pid=1234 comm=\"ls\" exe=\"/usr/bin/ls\"";
  EXPECT_FALSE(values_may_differ_from_raw(LogFormat::kAuditd, plain));
  EXPECT_EQ(get(parse(proctitle), "proctitle"), "sh -c id\n");
}


// ---- Mail, FTP and database servers (Postfix, Dovecot, vsftpd, MySQL) ---------------------------
// Lines as the servers' sources write them (no corpus holds these programs' logs).

TEST_F(DeviceParse, PostfixSaslFailureRejectAndAuthSuccess) {
  const Event& sasl = parse("Dec  7 10:20:00 mail01 postfix/smtpd[8101]: warning: unknown[203.0.113.71]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
  EXPECT_EQ(get(sasl, "program"), "postfix/smtpd");
  EXPECT_EQ(get(sasl, "client_host"), "unknown");
  EXPECT_EQ(get(sasl, "client_ip"), "203.0.113.71");
  EXPECT_EQ(get(sasl, "sasl_method"), "LOGIN");
  EXPECT_EQ(get(sasl, "reason"), "UGFzc3dvcmQ6");
  EXPECT_EQ(sasl.parse_error, ParseErrorKind::kNone);
  const Event& sasl3 = parse("Dec  7 10:20:01 mail01 postfix/submission/smtpd[8102]: warning: mx.example.net[2001:db8::5]:50123: SASL PLAIN authentication failed: authentication failure, sasl_username=lan@example.com");
  EXPECT_EQ(get(sasl3, "client_host"), "mx.example.net");
  EXPECT_EQ(get(sasl3, "client_ip"), "2001:db8::5");
  EXPECT_EQ(get(sasl3, "client_port"), "50123");
  EXPECT_EQ(get(sasl3, "sasl_method"), "PLAIN");
  EXPECT_EQ(get(sasl3, "reason"), "authentication failure");
  EXPECT_EQ(get(sasl3, "sasl_username"), "lan@example.com");

  const Event& rej = parse("Dec  7 10:21:00 mail01 postfix/smtpd[8201]: NOQUEUE: reject: RCPT from unknown[203.0.113.72]: 554 5.7.1 <victim@example.com>: Relay access denied; from=<spam@example.net> to=<victim@example.com> proto=ESMTP helo=<x>");
  EXPECT_EQ(get(rej, "queue_id"), "NOQUEUE");
  EXPECT_EQ(get(rej, "action"), "reject");
  EXPECT_EQ(get(rej, "smtp_command"), "RCPT");
  EXPECT_EQ(get(rej, "client_host"), "unknown");
  EXPECT_EQ(get(rej, "client_ip"), "203.0.113.72");
  EXPECT_EQ(get(rej, "reply_code"), "554");
  EXPECT_EQ(get(rej, "dsn"), "5.7.1");
  EXPECT_EQ(get(rej, "reason"), "<victim@example.com>: Relay access denied");
  EXPECT_EQ(get(rej, "sender"), "spam@example.net");
  EXPECT_EQ(get(rej, "recipient"), "victim@example.com");
  EXPECT_EQ(get(rej, "helo"), "x");

  const Event& ok = parse("Dec  7 10:21:05 mail01 postfix/submission/smtpd[8203]: 4F9D195432C: client=unknown[10.10.30.5], sasl_method=PLAIN, sasl_username=lanntt");
  EXPECT_EQ(get(ok, "queue_id"), "4F9D195432C");
  EXPECT_EQ(get(ok, "client_ip"), "10.10.30.5");
  EXPECT_EQ(get(ok, "sasl_method"), "PLAIN");
  EXPECT_EQ(get(ok, "sasl_username"), "lanntt");

  const Event& lost = parse("Dec  7 10:21:06 mail01 postfix/smtpd[8204]: lost connection after AUTH from unknown[203.0.113.72]");
  EXPECT_EQ(get(lost, "client_ip"), "203.0.113.72");
  const Event& conn = parse("Mar 16 00:01:25 evita postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]");
  EXPECT_EQ(get(conn, "client_host"), "camomile.cloud9.net");
  EXPECT_EQ(get(conn, "client_ip"), "168.100.1.3");
  // The same message from another program gets no Postfix fields.
  EXPECT_FALSE(has(parse("Dec  7 10:20:00 mail01 sendmail[1]: warning: unknown[203.0.113.71]: SASL LOGIN authentication failed: x"), "client_ip"));
}

TEST_F(DeviceParse, DovecotLoginAndPassdbLines) {
  const Event& d = parse("Dec  7 10:22:00 mail01 dovecot: imap-login: Disconnected (auth failed, 3 attempts in 15 secs): user=<admin>, method=PLAIN, rip=203.0.113.73, lip=10.10.5.25, TLS, session=<hq7Dv+JAstXLqEPR>");
  EXPECT_EQ(get(d, "program"), "dovecot");
  EXPECT_EQ(get(d, "action"), "Disconnected");
  EXPECT_EQ(get(d, "reason"), "auth failed, 3 attempts in 15 secs");
  EXPECT_EQ(get(d, "user"), "admin");
  EXPECT_EQ(get(d, "auth_method"), "PLAIN");
  EXPECT_EQ(get(d, "client_ip"), "203.0.113.73");
  EXPECT_EQ(get(d, "server_ip"), "10.10.5.25");
  EXPECT_EQ(get(d, "session"), "hq7Dv+JAstXLqEPR");
  const Event& login = parse("Dec  7 10:22:00 mail01 dovecot[812]: pop3-login: Login: user=<lanntt>, method=PLAIN, rip=::ffff:10.10.30.5, lip=::ffff:10.10.5.25, mpid=8302, TLS");
  EXPECT_EQ(get(login, "action"), "Login");
  EXPECT_FALSE(has(login, "reason"));
  EXPECT_EQ(get(login, "user"), "lanntt");
  EXPECT_EQ(get(login, "client_ip"), "10.10.30.5");
  EXPECT_EQ(get(login, "server_ip"), "10.10.5.25");
  const Event& pam = parse("Dec  7 10:22:05 mail01 dovecot: auth-worker(8301): pam(admin,203.0.113.73,<abc>): pam_authenticate() failed: Authentication failure (password mismatch?)");
  EXPECT_EQ(get(pam, "passdb"), "pam");
  EXPECT_EQ(get(pam, "user"), "admin");
  EXPECT_EQ(get(pam, "client_ip"), "203.0.113.73");
  EXPECT_EQ(get(pam, "session"), "abc");
  EXPECT_EQ(get(pam, "reason"), "pam_authenticate() failed: Authentication failure (password mismatch?)");
  const Event& pf = parse("Dec  7 10:22:06 mail01 dovecot: auth: passwd-file(nobody,203.0.113.73): unknown user");
  EXPECT_EQ(get(pf, "passdb"), "passwd-file");
  EXPECT_EQ(get(pf, "user"), "nobody");
  EXPECT_EQ(get(pf, "client_ip"), "203.0.113.73");
  EXPECT_FALSE(has(pf, "session"));
  EXPECT_EQ(get(pf, "reason"), "unknown user");
}

TEST_F(DeviceParse, VsftpdOwnLogAndSyslog) {
  const Event& fail = parse("Mon Dec  7 10:23:00 2026 [pid 8401] [admin] FAIL LOGIN: Client \"203.0.113.74\"");
  EXPECT_EQ(fail.format, LogFormat::kPlain);
  EXPECT_EQ(get(fail, "pid"), "8401");
  EXPECT_EQ(get(fail, "user"), "admin");
  EXPECT_EQ(get(fail, "action"), "FAIL LOGIN");
  EXPECT_EQ(get(fail, "client_ip"), "203.0.113.74");
  const Event& up = parse("Mon Dec  7 10:24:00 2026 [pid 8501] [ftp] OK UPLOAD: Client \"::ffff:203.0.113.75\", \"/incoming/x.php\", 2114 bytes, 3.12Kbyte/sec");
  EXPECT_EQ(get(up, "user"), "ftp");
  EXPECT_EQ(get(up, "action"), "OK UPLOAD");
  EXPECT_EQ(get(up, "client_ip"), "203.0.113.75");
  EXPECT_EQ(get(up, "path"), "/incoming/x.php");
  EXPECT_EQ(get(up, "bytes"), "2114");
  const Event& conn = parse("Mon Dec  7 10:23:59 2026 [pid 8500] CONNECT: Client \"203.0.113.75\"");
  EXPECT_FALSE(has(conn, "user"));
  EXPECT_EQ(get(conn, "action"), "CONNECT");
  const Event& sys = parse("Dec  7 10:23:00 ftp01 vsftpd[8402]: [admin] FAIL LOGIN: Client \"::ffff:203.0.113.74\"");
  EXPECT_EQ(get(sys, "pid"), "8402");
  EXPECT_EQ(get(sys, "user"), "admin");
  EXPECT_EQ(get(sys, "action"), "FAIL LOGIN");
  EXPECT_EQ(get(sys, "client_ip"), "203.0.113.74");
  EXPECT_FALSE(has(parse("Mon Dec  7 10:23:00 2026 something else entirely here"), "action"));
}

TEST_F(DeviceParse, MysqlAccessDeniedInEachLayout) {
  // MySQL 8 (read as syslog with host "12"), 5.x/MariaDB plain, and through syslog.
  const Event& m8 = parse("2026-12-07T10:33:00.123456Z 12 [Note] [MY-010926] [Server] Access denied for user 'root'@'203.0.113.82' (using password: YES)");
  EXPECT_EQ(get(m8, "user"), "root");
  EXPECT_EQ(get(m8, "client_host"), "203.0.113.82");
  EXPECT_EQ(get(m8, "client_ip"), "203.0.113.82");
  EXPECT_EQ(get(m8, "using_password"), "YES");
  const Event& m5 = parse("2026-12-07 10:33:00 12 [Warning] Access denied for user 'app'@'db-client.example' (using password: NO)");
  EXPECT_EQ(m5.format, LogFormat::kPlain);
  EXPECT_EQ(get(m5, "user"), "app");
  EXPECT_EQ(get(m5, "client_host"), "db-client.example");
  EXPECT_FALSE(has(m5, "client_ip"));
  EXPECT_EQ(get(m5, "using_password"), "NO");
  const Event& sys = parse("Dec  7 10:33:00 db01 mariadbd[901]: 2026-12-07 10:33:00 12 [Warning] Access denied for user 'root'@'localhost' (using password: YES)");
  EXPECT_EQ(get(sys, "user"), "root");
  EXPECT_EQ(get(sys, "client_host"), "localhost");
  VIGIL_REQUIRE_CORPUS("device-logs/beats/filebeat/module/mysql/error/test/mysql-ubuntu-8.0.15.log");
  for (const std::string& line : corpus_lines("device-logs/beats/filebeat/module/mysql/error/test/mysql-ubuntu-8.0.15.log"))
    EXPECT_FALSE(has(parse(line), "using_password")) << line;  // none is a denial
}

TEST_F(DeviceParse, ServerMessagesMalformedAreCountedNeverCrash) {
  struct Case {
    const char* line;
    ParseErrorKind want;
  };
  const Case cases[] = {
      {"Dec  7 10:20:00 mail01 postfix/smtpd[1]: warning: unknown[203.0.113.71", ParseErrorKind::kTruncatedRecord},
      {"Dec  7 10:21:00 mail01 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0", ParseErrorKind::kTruncatedRecord},
      {"Dec  7 10:22:00 mail01 dovecot: imap-login: Login: user=<adm", ParseErrorKind::kTruncatedRecord},
      {"Dec  7 10:22:00 mail01 dovecot: auth: pam(admin,203.0.113.7", ParseErrorKind::kTruncatedRecord},
      {"Mon Dec  7 10:23:00 2026 [pid 8401] [admin] FAIL LOGIN: Client \"203.0.", ParseErrorKind::kTruncatedRecord},
      {"Mon Dec  7 10:23:00 2026 [pid 8401", ParseErrorKind::kTruncatedRecord},
      {"2026-12-07 10:33:00 12 [Warning] Access denied for user 'root'@'203.0", ParseErrorKind::kTruncatedRecord},
      {"2026-12-07 10:33:00 12 [Warning] Access denied for user 'ro", ParseErrorKind::kTruncatedRecord},
      {"Dec  7 10:20:00 mail01 postfix/smtpd[1]: warning: : SASL", ParseErrorKind::kNone},
      {"Dec  7 10:22:00 mail01 dovecot: imap-login: ", ParseErrorKind::kNone},
      {"Dec  7 10:23:00 ftp01 vsftpd[1]: [", ParseErrorKind::kTruncatedRecord},
  };
  std::array<std::size_t, static_cast<std::size_t>(ParseErrorKind::kCount)> counts{};
  for (const Case& c : cases) {
    const Event& ev = parse(c.line);
    EXPECT_EQ(ev.parse_error, c.want) << c.line;
    EXPECT_EQ(get(ev, "message").empty(), false) << c.line;
    ++counts[static_cast<std::size_t>(ev.parse_error)];
  }
  EXPECT_EQ(counts[static_cast<std::size_t>(ParseErrorKind::kTruncatedRecord)], 9u);
  // Every prefix and random damage of good lines: no crash, no read outside the record (ASan).
  const std::string good[] = {
      "Dec  7 10:20:01 mail01 postfix/submission/smtpd[8102]: warning: mx.example.net[2001:db8::5]:50123: SASL PLAIN authentication failed: authentication failure, sasl_username=lan@example.com",
      "Dec  7 10:21:00 mail01 postfix/smtpd[8201]: NOQUEUE: reject: RCPT from unknown[203.0.113.72]: 554 5.7.1 <victim@example.com>: Relay access denied; from=<spam@example.net> to=<victim@example.com> proto=ESMTP helo=<x>",
      "Dec  7 10:21:05 mail01 postfix/submission/smtpd[8203]: 4F9D195432C: client=unknown[10.10.30.5], sasl_method=PLAIN, sasl_username=lanntt",
      "Dec  7 10:22:00 mail01 dovecot: imap-login: Disconnected (auth failed, 3 attempts in 15 secs): user=<admin>, method=PLAIN, rip=203.0.113.73, lip=10.10.5.25, TLS, session=<hq7Dv+JAstXLqEPR>",
      "Dec  7 10:22:05 mail01 dovecot: auth-worker(8301): pam(admin,203.0.113.73,<abc>): pam_authenticate() failed: Authentication failure",
      "Mon Dec  7 10:24:00 2026 [pid 8501] [ftp] OK UPLOAD: Client \"::ffff:203.0.113.75\", \"/incoming/x.php\", 2114 bytes, 3.12Kbyte/sec",
      "2026-12-07T10:33:00.123456Z 12 [Note] [MY-010926] [Server] Access denied for user 'root'@'203.0.113.82' (using password: YES)",
      "2026-12-07 10:33:00 12 [Warning] Access denied for user 'root'@'localhost' (using password: YES)",
  };
  std::mt19937 rng(23);
  std::size_t records = 0;
  for (const std::string& line : good) {
    for (std::size_t cut = 0; cut <= line.size(); ++cut) {
      parse(std::string_view(line).substr(0, cut));
      ++records;
    }
    for (int round = 0; round < 50; ++round) {
      std::string flipped = line;
      for (int i = 0; i < 4; ++i) flipped[rng() % flipped.size()] = static_cast<char>(rng());
      parse(flipped);
      ++records;
    }
  }
  EXPECT_GT(records, 1000u);
}

// ---- ModSecurity v3 JSON audit log (flattened by the JSON parser) -------------------------------
// The names docs/logsource-mapping.md documents and the modsecurity rules read.

constexpr std::string_view kModsecAudit = R"J({"transaction":{"client_ip":"203.0.113.90","time_stamp":"Mon Dec  7 10:40:00 2026","server_id":"1a2b3c","client_port":51234,"host_ip":"10.10.5.30","host_port":443,"unique_id":"170155440012.345678","request":{"method":"GET","http_version":1.1,"uri":"/index.php?id=1%27%20UNION%20SELECT%201,2--","headers":{"Host":"portal.example.gov","User-Agent":"sqlmap/1.7"}},"response":{"http_code":403,"headers":{"Content-Type":"text/html"}},"producer":{"modsecurity":"ModSecurity v3.0.12 (Linux)","connector":"ModSecurity-nginx v1.0.3","secrules_engine":"Enabled","components":["OWASP_CRS/4.0.0\""]},"messages":[{"message":"SQL Injection Attack Detected via libinjection","details":{"match":"detected SQLi using libinjection.","reference":"v10,30","ruleId":"942100","file":"/etc/modsecurity/crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf","lineNumber":"46","data":"Matched Data: 1c found within ARGS:id","severity":"2","ver":"OWASP_CRS/4.0.0","rev":"","tags":["application-multi","language-multi","platform-multi","attack-sqli","paranoia-level/1","OWASP_CRS","capec/1000/152/248/66"],"maturity":"0","accuracy":"0"}},{"message":"Inbound Anomaly Score Exceeded (Total Score: 5)","details":{"match":"Matched \"Operator `Ge' with parameter `5' against variable `TX:BLOCKING_INBOUND_ANOMALY_SCORE' (Value: `5' )","reference":"","ruleId":"949110","file":"/etc/modsecurity/crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf","lineNumber":"222","data":"","severity":"2","ver":"OWASP_CRS/4.0.0","rev":"","tags":["anomaly-evaluation","OWASP_CRS"],"maturity":"0","accuracy":"0"}}]}})J";

TEST_F(DeviceParse, ModsecurityJsonAuditFlattensToDocumentedNames) {
  const Event& m = parse(kModsecAudit);
  EXPECT_EQ(m.format, LogFormat::kJson);
  EXPECT_EQ(m.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(m, "transaction.client_ip"), "203.0.113.90");
  EXPECT_EQ(get(m, "transaction.client_port"), "51234");
  EXPECT_EQ(get(m, "transaction.host_ip"), "10.10.5.30");
  EXPECT_EQ(get(m, "transaction.time_stamp"), "Mon Dec  7 10:40:00 2026");
  EXPECT_EQ(get(m, "transaction.unique_id"), "170155440012.345678");
  EXPECT_EQ(get(m, "transaction.request.method"), "GET");
  EXPECT_EQ(get(m, "transaction.request.uri"), "/index.php?id=1%27%20UNION%20SELECT%201,2--");
  EXPECT_EQ(get(m, "transaction.request.headers.Host"), "portal.example.gov");
  EXPECT_EQ(get(m, "transaction.request.headers.User-Agent"), "sqlmap/1.7");
  EXPECT_EQ(get(m, "transaction.response.http_code"), "403");
  EXPECT_EQ(get(m, "transaction.producer.secrules_engine"), "Enabled");
  // Array elements take the array's name: one field per message, in order.
  const auto all = [&](std::string_view name) {
    std::vector<std::string> out;
    m.fields.any_named(name, [&](const Field& f) {
      out.emplace_back(f.value);
      return false;
    });
    return out;
  };
  EXPECT_EQ(all("transaction.messages.message"),
            (std::vector<std::string>{"SQL Injection Attack Detected via libinjection",
                                      "Inbound Anomaly Score Exceeded (Total Score: 5)"}));
  EXPECT_EQ(all("transaction.messages.details.ruleId"), (std::vector<std::string>{"942100", "949110"}));
  EXPECT_EQ(all("transaction.messages.details.severity"), (std::vector<std::string>{"2", "2"}));
  EXPECT_EQ(get(m, "transaction.messages.details.data"), "Matched Data: 1c found within ARGS:id");
  const std::vector<std::string> tags = all("transaction.messages.details.tags");
  EXPECT_EQ(tags.size(), 9u);
  EXPECT_NE(std::find(tags.begin(), tags.end(), "attack-sqli"), tags.end());

  // Cut short, damaged or binary: counted by reason, never a crash.
  EXPECT_EQ(parse(kModsecAudit.substr(0, kModsecAudit.size() / 2)).parse_error, ParseErrorKind::kTruncatedJson);
  std::string broken(kModsecAudit);
  broken[broken.find("\"response\"") - 1] = ';';
  EXPECT_EQ(parse(broken).parse_error, ParseErrorKind::kInvalidJson);
  std::string binary(kModsecAudit);
  binary[40] = '\0';
  EXPECT_EQ(parse(binary).parse_error, ParseErrorKind::kBinary);
  for (std::size_t cut = 0; cut <= kModsecAudit.size(); cut += 7) parse(kModsecAudit.substr(0, cut));
}

TEST_F(DeviceParse, PostgresqlAuthenticationMessages) {
  const Event& pw = parse("2026-12-07 10:34:00.123 UTC [9702] FATAL:  password authentication failed for user \"admin\"");
  EXPECT_EQ(get(pw, "level"), "FATAL");
  EXPECT_EQ(get(pw, "auth_method"), "password");
  EXPECT_EQ(get(pw, "user"), "admin");
  const Event& pre = parse("2026-12-07 10:34:00.123 UTC [9701] postgres@dvc FATAL:  password authentication failed for user \"postgres\"");
  std::size_t users = 0;
  pre.fields.any_named("user", [&](const Field&) { return ++users, false; });
  EXPECT_EQ(users, 1u);  // the prefix's %u is not repeated
  const Event& hba = parse("2026-12-07 10:34:01.123 UTC [9703] FATAL:  no pg_hba.conf entry for host \"203.0.113.83\", user \"postgres\", database \"postgres\", SSL off");
  EXPECT_EQ(get(hba, "client_ip"), "203.0.113.83");
  EXPECT_EQ(get(hba, "user"), "postgres");
  EXPECT_EQ(get(hba, "database"), "postgres");
  const Event& role = parse("2026-12-07 10:43:00.123 UTC [9903] FATAL:  role \"root\" does not exist");
  EXPECT_EQ(get(role, "user"), "root");
  const Event& recv = parse("2026-12-07 10:43:00.123 UTC [9904] LOG:  connection received: host=203.0.113.84 port=50512");
  EXPECT_EQ(get(recv, "client_ip"), "203.0.113.84");
  EXPECT_EQ(get(recv, "client_port"), "50512");
  const Event& authz = parse("2026-12-07 10:43:00.223 UTC [9904] LOG:  connection authorized: user=app database=dvc");
  EXPECT_EQ(get(authz, "user"), "app");
  EXPECT_EQ(get(authz, "database"), "dvc");
  const Event& sys = parse("Dec  7 10:34:00 db02 postgres[9701]: [3-1] FATAL:  PAM authentication failed for user \"ops\"");
  EXPECT_EQ(get(sys, "auth_method"), "PAM");
  EXPECT_EQ(get(sys, "user"), "ops");
  for (const char* cut : {"2026-12-07 10:34:00.123 UTC [9702] FATAL:  password authentication failed for user \"adm",
                          "2026-12-07 10:34:00.123 UTC [9703] FATAL:  no pg_hba.conf entry for host \"203.0",
                          "2026-12-07 10:43:00.123 UTC [9904] LOG:  connection received: host="}) {
    const Event& c = parse(cut);
    EXPECT_FALSE(has(c, "client_ip")) << cut;
    EXPECT_EQ(get(c, "message"), cut);
  }
}

}  // namespace
}  // namespace vigil::parse
