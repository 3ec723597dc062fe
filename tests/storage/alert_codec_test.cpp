#include "storage/alert_codec.h"

#include <gtest/gtest.h>

namespace vigil::storage {
namespace {

Alert full_alert() {
  Alert a;
  a.received_unix_ns = 1'700'000'000'123'456'789;
  a.event_unix_ns = -5;  // negative: zigzag must keep the sign
  a.event_time = "2023-11-14T22:13:20Z";
  a.rule_id = "5f1c0b2e-rule";
  a.rule_title = "Suspicious PowerShell";
  a.rule_path = "rules/windows/ps.yml";
  a.level = AlertLevel::kCritical;
  a.tags = {"attack.execution", "attack.t1059.001", ""};
  a.tenant = "province-a";
  a.system = "dc-firewall";
  a.host = std::string("web\0x", 5);
  a.collector = "syslog-tcp";
  a.peer = "10.1.2.3:514";
  a.record_no = 1ull << 40;
  a.format = "json";
  a.matched = {{"CommandLine", "powershell -enc AAAA"}, {"(keyword)", "mimikatz"}};
  a.fields = {{"a", ""}, {"", "b"}};
  a.raw = std::string(300, 'r') + std::string("\0\xff", 2);
  a.status = AlertStatus::kInProgress;
  a.resolution = AlertResolution::kFalsePositive;
  a.assignee = "analyst1";
  a.count = 4'000'000'000u;
  a.attack_tactics = {"execution"};
  a.attack_techniques = {"T1059", "T1059.001"};
  return a;
}

TEST(AlertCodec, RoundTripsEveryField) {
  Alert a = full_alert();
  std::string key = make_alert_key(1'700'000'000'000'000'001, 42);
  Alert b;
  ASSERT_TRUE(decode_alert(key, encode_alert(a), &b).ok());
  EXPECT_EQ(b.id, alert_id_from_key(key));
  EXPECT_EQ(b.created_unix_ns, 1'700'000'000'000'000'001);
  EXPECT_EQ(b.received_unix_ns, a.received_unix_ns);
  EXPECT_EQ(b.event_unix_ns, a.event_unix_ns);
  EXPECT_EQ(b.event_time, a.event_time);
  EXPECT_EQ(b.rule_id, a.rule_id);
  EXPECT_EQ(b.rule_title, a.rule_title);
  EXPECT_EQ(b.rule_path, a.rule_path);
  EXPECT_EQ(b.level, a.level);
  EXPECT_EQ(b.tags, a.tags);
  EXPECT_EQ(b.tenant, a.tenant);
  EXPECT_EQ(b.system, a.system);
  EXPECT_EQ(b.host, a.host);
  EXPECT_EQ(b.collector, a.collector);
  EXPECT_EQ(b.peer, a.peer);
  EXPECT_EQ(b.record_no, a.record_no);
  EXPECT_EQ(b.format, a.format);
  ASSERT_EQ(b.matched.size(), 2u);
  EXPECT_EQ(b.matched[1].name, "(keyword)");
  EXPECT_EQ(b.matched[1].value, "mimikatz");
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[1].name, "");
  EXPECT_EQ(b.fields[1].value, "b");
  EXPECT_EQ(b.raw, a.raw);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.resolution, a.resolution);
  EXPECT_EQ(b.assignee, a.assignee);
  EXPECT_EQ(b.count, a.count);
  EXPECT_EQ(b.attack_tactics, a.attack_tactics);
  EXPECT_EQ(b.attack_techniques, a.attack_techniques);
}

// Stores written before alerts carried ATT&CK views hold version 1 values: version 2's layout
// without the two trailing lists. They must still read, with empty views.
TEST(AlertCodec, ReadsVersionOneValuesWrittenBeforeAttackViews) {
  Alert a = full_alert();
  a.attack_tactics.clear();
  a.attack_techniques.clear();
  std::string v1 = encode_alert(a);
  ASSERT_EQ(v1.substr(v1.size() - 2), std::string(2, '\0'));  // two empty lists
  v1.resize(v1.size() - 2);
  v1[0] = static_cast<char>(kAlertValueVersionWithoutAttack);
  Alert b;
  ASSERT_TRUE(decode_alert(make_alert_key(5, 1), v1, &b).ok());
  EXPECT_EQ(b.rule_id, a.rule_id);
  EXPECT_EQ(b.count, a.count);
  EXPECT_TRUE(b.attack_techniques.empty());
  // The same bytes under version 2 lack the lists: truncated.
  v1[0] = static_cast<char>(kAlertValueVersion);
  EXPECT_EQ(decode_alert(make_alert_key(5, 1), v1, &b).code(), StatusCode::kParseError);
}

TEST(AlertCodec, KeysSortByTimeThenSequenceAndIdsAreLowercaseHex) {
  std::string k1 = make_alert_key(1000, 7), k2 = make_alert_key(1000, 8), k3 = make_alert_key(1001, 0);
  EXPECT_LT(k1, k2);
  EXPECT_LT(k2, k3);
  EXPECT_EQ(alert_id_from_key(k1), "00000000000003e80000000000000007");
  EXPECT_EQ(alert_key_created_unix_ns(k3), 1001);
  auto back = alert_key_from_id("00000000000003E80000000000000007");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, k1);
}

TEST(AlertCodec, RejectsMalformedIds) {
  EXPECT_EQ(alert_key_from_id("").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(alert_key_from_id("00000000000003e8000000000000000").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(alert_key_from_id("00000000000003e8000000000000000g").error().code(), StatusCode::kInvalidArgument);
}

TEST(AlertCodec, RejectsTruncatedTrailingAndUnknownVersion) {
  std::string key = make_alert_key(1, 1);
  std::string value = encode_alert(full_alert());
  Alert out;
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, value.size() / 2, value.size() - 1}) {
    Status s = decode_alert(key, std::string_view(value).substr(0, cut), &out);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << "cut at " << cut;
  }
  EXPECT_EQ(decode_alert(key, value + "x", &out).code(), StatusCode::kParseError);
  std::string v2 = value;
  v2[0] = kAlertValueVersion + 1;
  Status s = decode_alert(key, v2, &out);
  EXPECT_EQ(s.code(), StatusCode::kParseError);
  EXPECT_NE(s.message().find("version"), std::string::npos);
  EXPECT_EQ(decode_alert("short", value, &out).code(), StatusCode::kParseError);
}

TEST(AlertCodec, RejectsOutOfRangeEnums) {
  Alert a;
  a.level = static_cast<AlertLevel>(9);
  Alert out;
  EXPECT_EQ(decode_alert(make_alert_key(1, 1), encode_alert(a), &out).code(), StatusCode::kParseError);
}

}  // namespace
}  // namespace vigil::storage
