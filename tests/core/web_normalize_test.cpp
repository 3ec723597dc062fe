// core/parse/web_normalize: the decoded views of a request that web-attack rules read.
#include "core/parse/web_normalize.h"

#include <gtest/gtest.h>

#include <string>

#include "core/parse/parser.h"

namespace vigil::parse {
namespace {

std::string norm(std::string_view in, WebPart part = WebPart::kQuery) {
  std::string out;
  if (!normalize_web_value(in, part, out)) return std::string(in);
  return out;
}

TEST(WebNormalize, PlainValueIsLeftAsIs) {
  std::string out = "untouched";
  EXPECT_FALSE(normalize_web_value("/index.php?id=42&page=Home", WebPart::kQuery, out));
  EXPECT_EQ(out, "untouched");
  // A query separator is not an entity.
  EXPECT_FALSE(normalize_web_value("a=1&lt=2&b=3", WebPart::kQuery, out));
}

TEST(WebNormalize, UrlDecodingRepeatsUntilStable) {
  EXPECT_EQ(norm("id=1%20union%20select"), "id=1 union select");
  EXPECT_EQ(norm("%252e%252e%252fetc"), "../etc");     // twice
  EXPECT_EQ(norm("%25252e%25252e"), "..");             // three times
  EXPECT_EQ(norm("%ZZ%4"), "%ZZ%4");                    // not escapes: kept
}

TEST(WebNormalize, PlusIsSpaceInTheQueryOnly) {
  EXPECT_EQ(norm("q=union+select", WebPart::kQuery), "q=union select");
  EXPECT_EQ(norm("/a+b", WebPart::kPath), "/a+b");
  // An encoded plus is a plus: only the server's first decoding turns '+' into a space.
  EXPECT_EQ(norm("a=1%2B1", WebPart::kQuery), "a=1+1");
  // A Referer is a URL: '+' is a space in its query only.
  EXPECT_EQ(norm("http://x/a+b?q=1+or+2", WebPart::kUrl), "http://x/a+b?q=1 or 2");
  EXPECT_EQ(norm("http://x/a+b", WebPart::kUrl), "http://x/a+b");
}

TEST(WebNormalize, IisUnicodeAndJavaScriptEscapes) {
  EXPECT_EQ(norm("%u003cscript%u003e"), "<script>");
  EXPECT_EQ(norm("\\u0061lert(1)"), "alert(1)");
  EXPECT_EQ(norm("\\x3cimg\\x3e"), "<img>");
  EXPECT_EQ(norm("\\u{61}lert"), "alert");
  EXPECT_EQ(norm("%5Cu0061lert"), "alert");  // URL-encoded JS escape: two layers
}

TEST(WebNormalize, HtmlEntities) {
  EXPECT_EQ(norm("&lt;svg onload=alert(1)&gt;"), "<svg onload=alert(1)>");
  EXPECT_EQ(norm("&#x3C;script&#62;"), "<script>");
  EXPECT_EQ(norm("&#106&#97&#118&#97"), "java");       // ';' optional
  EXPECT_EQ(norm("javascript&colon;alert&lpar;1&rpar;"), "javascript:alert(1)");
  EXPECT_EQ(norm("&LT;b&GT;"), "<b>");
  EXPECT_EQ(norm("%26lt%3Bscript%26gt%3B"), "<script>");
}

TEST(WebNormalize, SqlCommentsBecomeASpace) {
  EXPECT_EQ(norm("1 UNION/**/SELECT 1"), "1 UNION SELECT 1");
  EXPECT_EQ(norm("INSERT/*x*/INTO t"), "INSERT INTO t");
  EXPECT_EQ(norm("1/*!50000UNION*//*!50000SELECT*/1"), "1 UNION SELECT 1");
  EXPECT_EQ(norm("1 union/*"), "1 union/*");  // unclosed: kept (XPath's count(/*) needs it)
  EXPECT_EQ(norm("1%2f%2a%2a%2funion"), "1 union");
}

TEST(WebNormalize, WhitespaceNulAndOddForms) {
  EXPECT_EQ(norm("a%09%0a%0d%0b%0c b"), "a b");
  EXPECT_EQ(norm("a \t  b"), "a b");
  EXPECT_EQ(norm("shell.php%00.jpg"), "shell.php.jpg");
  EXPECT_EQ(norm("%c0%ae%c0%ae%c0%af"), "../");          // overlong UTF-8
  EXPECT_EQ(norm("%e0%80%ae%e0%80%ae/"), "../");
  EXPECT_EQ(norm("%ef%bc%8e%ef%bc%8e%ef%bc%8f"), "../");  // full-width
  EXPECT_EQ(norm("1%a0or%c2%a01=1"), "1 or 1=1");
}

TEST(WebNormalize, OutputNeverLonger) {
  for (std::string_view in : {"&#1114111;", "%uFFFF", "\\u{10FFFF}", "&#x1F600", "%u0000%00"}) {
    std::string out;
    if (normalize_web_value(in, WebPart::kQuery, out)) {
      EXPECT_LE(out.size(), in.size()) << in;
    }
  }
}

TEST(WebNormalize, EmitsOnlyWantedViews) {
  FieldView fields;
  const std::string target = "/a%20b?q=x+y";
  WebRequestParts parts;
  parts.has_target = true;
  parts.uri_stem = std::string_view(target).substr(0, 6);
  parts.has_query = true;
  parts.uri_query = std::string_view(target).substr(7);
  parts.user_agent = "curl/8.0";
  FieldSelection wanted(std::vector<std::string>{"cs-uri-query-norm"});
  emit_web_views(fields, parts, &wanted);
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields.fields()[0].name, "cs-uri-query-norm");
  EXPECT_EQ(fields.fields()[0].value, "q=x y");

  FieldView all;
  emit_web_views(all, parts, nullptr);
  ASSERT_NE(all.find("cs-uri-norm"), nullptr);
  EXPECT_EQ(all.find("cs-uri-norm")->value, "/a b?q=x y");
  EXPECT_EQ(all.find("cs-uri-stem-norm")->value, "/a b");
  // Unchanged: the value itself, not a copy.
  EXPECT_EQ(all.find("cs-user-agent-norm")->value.data(), parts.user_agent.data());
  EXPECT_EQ(all.find("cs-referer-norm"), nullptr);  // absent part: no view

  FieldSelection none(std::vector<std::string>{"cs-uri"});
  FieldView nothing;
  emit_web_views(nothing, parts, &none);
  EXPECT_TRUE(nothing.empty());
}

// Found by fuzz_parse: a W3C record with a query column but no stem column gave a target whose
// stem view had no data, and the adjacency check did pointer arithmetic on null (UBSan).
TEST(WebNormalize, QueryWithoutStemNullPointerOffset) {
  WebRequestParts parts;
  parts.has_target = true;
  parts.has_query = true;
  parts.uri_query = "id=1";
  FieldView fields;
  emit_web_views(fields, parts, nullptr);
  ASSERT_NE(fields.find("cs-uri-norm"), nullptr);
  EXPECT_EQ(fields.find("cs-uri-norm")->value, "?id=1");
  EXPECT_EQ(fields.find("cs-uri-query-norm")->value, "id=1");

  RecordParser parser;
  Event header, line;
  header.raw = "#Fields: date time cs-method cs-uri-query c-ip";
  line.raw = "2026-12-07 08:00:01 GET id=1%27 203.0.113.9";
  ASSERT_TRUE(parser.parse(LogFormat::kW3c, header));
  ASSERT_TRUE(parser.parse(LogFormat::kW3c, line));
  ASSERT_NE(line.fields.find("cs-uri-query-norm"), nullptr);
  EXPECT_EQ(line.fields.find("cs-uri-query-norm")->value, "id=1'");
}

TEST(WebNormalize, AccessLogParserEmitsViews) {
  RecordParser parser;
  Event ev;
  const std::string line =
      "10.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /p.php?id=1%27%20UNION/**/SELECT+1 HTTP/1.1\" 200 5 "
      "\"-\" \"sqlmap%2F1.7\"\n";
  ev.raw = line;
  ASSERT_TRUE(parser.parse(LogFormat::kUnknown, ev));
  ASSERT_NE(ev.fields.find("cs-uri-query-norm"), nullptr);
  EXPECT_EQ(ev.fields.find("cs-uri-query-norm")->value, "id=1' UNION SELECT 1");
  EXPECT_EQ(ev.fields.find("cs-uri-norm")->value, "/p.php?id=1' UNION SELECT 1");
  EXPECT_EQ(ev.fields.find("cs-user-agent-norm")->value, "sqlmap/1.7");
  EXPECT_EQ(ev.fields.find("cs-referer-norm"), nullptr);

  // A selection without views: the parse adds none.
  FieldSelection wanted(std::vector<std::string>{"cs-uri-query"});
  Event ev2;
  ev2.raw = line;
  ASSERT_TRUE(parser.parse(LogFormat::kUnknown, ev2, LogFormat::kUnknown, &wanted));
  EXPECT_EQ(ev2.fields.find("cs-uri-query-norm"), nullptr);
  std::vector<int> ids;
  Event ev3;
  ev3.raw = line;
  ASSERT_TRUE(parser.parse_selected(LogFormat::kUnknown, ev3, wanted, ids));
  EXPECT_EQ(ev3.fields.size(), 2u);  // _format and cs-uri-query
}

}  // namespace
}  // namespace vigil::parse
