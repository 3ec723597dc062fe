// Windows event XML (<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>...),
// one event per record, as Windows Event Forwarding collectors and NXLog's xm_xml send it.
//
// The XML is read into an evtx::EventTree, the element tree the EVTX decoder also builds, and
// written as evtx_dump JSON for the JSON parser: System, EventData (Data Name=...) and UserData
// get Sigma's names from the JSON parser's one Windows layout mapping, exactly as an .evtx file
// or evtx_dump output of the same event would. The conversion costs a copy of the event; XML
// events are far rarer than JSON ones, and one mapping is worth more than that copy.
//
// Only what Windows writes is accepted: elements, attributes ('...' or "..."), character and
// the five predefined entity references, CDATA, comments, an XML declaration before the root.
// No DTD. Namespace prefixes are dropped from names ("ns:Foo" -> "Foo"). Whitespace-only text
// beside child elements (indentation) is dropped; the text of a leaf element is kept as is.
#include <cstring>

#include "core/evtx/event_tree.h"
#include "core/parse/parsers_internal.h"
#include "core/utf8.h"

namespace vigil::parse::internal {

namespace {

bool is_name_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == ':' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view local_name(std::string_view name) {
  if (name.substr(0, 5) == "xmlns") return name;  // xmlns / xmlns:p stay attributes by name
  const std::size_t colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}


class XmlReader {
 public:
  XmlReader(std::string_view s, evtx::EventTree& tree) : s_(s), tree_(tree) {}

  WinXmlError run() {
    skip_prolog();
    if (error_ != WinXmlError::kNone) return error_;
    if (pos_ >= s_.size() || s_[pos_] != '<') return WinXmlError::kInvalid;
    if (!element()) return error_ == WinXmlError::kNone ? WinXmlError::kInvalid : error_;
    while (pos_ < s_.size() && is_xml_space(s_[pos_])) ++pos_;
    if (pos_ != s_.size()) return WinXmlError::kInvalid;  // one root, nothing after it
    return WinXmlError::kNone;
  }

 private:
  bool fail(WinXmlError e) {
    if (error_ == WinXmlError::kNone) error_ = e;
    return false;
  }
  // Running out of input is truncation; anything else wrong is invalid.
  bool need(std::size_t n) { return pos_ + n <= s_.size() || fail(WinXmlError::kTruncated); }

  void skip_space() {
    while (pos_ < s_.size() && is_xml_space(s_[pos_])) ++pos_;
  }

  // Spaces, the XML declaration and comments before the root.
  void skip_prolog() {
    for (;;) {
      skip_space();
      if (s_.substr(pos_, 5) == "<?xml") {
        const std::size_t end = s_.find("?>", pos_);
        if (end == std::string_view::npos) {
          fail(WinXmlError::kTruncated);
          return;
        }
        pos_ = end + 2;
      } else if (s_.substr(pos_, 4) == "<!--") {
        if (!comment()) return;
      } else {
        return;
      }
    }
  }

  bool comment() {
    const std::size_t end = s_.find("-->", pos_ + 4);
    if (end == std::string_view::npos) return fail(WinXmlError::kTruncated);
    pos_ = end + 3;
    return true;
  }

  bool name(std::string_view* out) {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    if (pos_ == start) return pos_ >= s_.size() ? fail(WinXmlError::kTruncated) : fail(WinXmlError::kInvalid);
    *out = s_.substr(start, pos_ - start);
    return true;
  }

  // Text up to `stop` (exclusive) with references decoded, added as a piece. `keep_blank`:
  // whitespace-only text is kept (a leaf's content, attribute values).
  bool text(std::size_t stop, bool keep_blank) {
    const std::string_view raw = s_.substr(pos_, stop - pos_);
    pos_ = stop;
    if (raw.empty()) return true;
    if (!keep_blank) {
      bool blank = true;
      for (char c : raw) blank = blank && is_xml_space(c);
      if (blank) return true;
    }
    std::string& t = tree_.text();
    const std::size_t start = t.size();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      if (c != '&') {
        t += c;
        continue;
      }
      const std::size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) return fail(WinXmlError::kInvalid);
      const std::string_view ref = raw.substr(i + 1, semi - i - 1);
      if (ref == "amp") t += '&';
      else if (ref == "lt") t += '<';
      else if (ref == "gt") t += '>';
      else if (ref == "quot") t += '"';
      else if (ref == "apos") t += '\'';
      else if (ref.size() >= 2 && ref[0] == '#') {
        std::uint32_t cp = 0;
        const bool hex = ref[1] == 'x' || ref[1] == 'X';
        const std::string_view digits = ref.substr(hex ? 2 : 1);
        if (digits.empty()) return fail(WinXmlError::kInvalid);
        for (char d : digits) {
          int v;
          if (is_digit(d)) v = d - '0';
          else if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
          else if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
          else return fail(WinXmlError::kInvalid);
          cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
          if (cp > 0x10FFFF) return fail(WinXmlError::kInvalid);
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
        append_utf8(t, cp);
      } else {
        return fail(WinXmlError::kInvalid);
      }
      i = semi;
    }
    tree_.add_piece(start, evtx::PieceType::kString);
    return true;
  }

  // One element, from its '<'. Iterative over content, recursive over child elements (the
  // tree's depth limit bounds the recursion).
  bool element() {
    ++pos_;  // '<'
    std::string_view tag;
    if (!name(&tag)) return false;
    if (!tree_.open_element(local_name(tag))) return fail(WinXmlError::kInvalid);
    // Attributes.
    for (;;) {
      const std::size_t before = pos_;
      skip_space();
      if (!need(1)) return false;
      const char c = s_[pos_];
      if (c == '/') {
        if (!need(2)) return false;
        if (s_[pos_ + 1] != '>') return fail(WinXmlError::kInvalid);
        pos_ += 2;
        tree_.close_element();
        return true;
      }
      if (c == '>') {
        ++pos_;
        tree_.end_attribute();
        break;
      }
      if (pos_ == before) return fail(WinXmlError::kInvalid);  // no space before an attribute
      std::string_view attr;
      if (!name(&attr)) return false;
      skip_space();
      if (!need(1)) return false;
      if (s_[pos_] != '=') return fail(WinXmlError::kInvalid);
      ++pos_;
      skip_space();
      if (!need(1)) return false;
      const char quote = s_[pos_];
      if (quote != '\'' && quote != '"') return fail(WinXmlError::kInvalid);
      const std::size_t close = s_.find(quote, pos_ + 1);
      if (close == std::string_view::npos) return fail(WinXmlError::kTruncated);
      if (s_.substr(pos_ + 1, close - pos_ - 1).find('<') != std::string_view::npos)
        return fail(WinXmlError::kInvalid);
      const std::string_view local = local_name(attr);
      if (local.substr(0, 6) == "xmlns:") {  // prefix declarations: not event data
        pos_ = close + 1;
        continue;
      }
      tree_.begin_attribute(local);
      ++pos_;
      if (!text(close, true)) return false;
      ++pos_;  // closing quote
      tree_.end_attribute();
    }
    // Content.
    bool has_children = false;
    for (;;) {
      const std::size_t lt = s_.find('<', pos_);
      if (lt == std::string_view::npos) return fail(WinXmlError::kTruncated);
      if (s_.substr(lt, 2) == "</") {
        // The last text run: kept even when blank if the element is a leaf.
        if (!text(lt, !has_children)) return false;
        pos_ = lt + 2;
        std::string_view end_tag;
        if (!name(&end_tag)) return false;
        if (end_tag != tag) return fail(WinXmlError::kInvalid);
        skip_space();
        if (!need(1)) return false;
        if (s_[pos_] != '>') return fail(WinXmlError::kInvalid);
        ++pos_;
        tree_.close_element();
        return true;
      }
      if (!text(lt, false)) return false;
      if (s_.substr(lt, 4) == "<!--") {
        if (!comment()) return false;
        continue;
      }
      if (s_.substr(lt, 9) == "<![CDATA[") {
        const std::size_t end = s_.find("]]>", lt + 9);
        if (end == std::string_view::npos) return fail(WinXmlError::kTruncated);
        tree_.add_text(s_.substr(lt + 9, end - lt - 9));
        pos_ = end + 3;
        continue;
      }
      if (lt + 1 < s_.size() && (s_[lt + 1] == '?' || s_[lt + 1] == '!')) return fail(WinXmlError::kInvalid);
      has_children = true;
      if (!element()) return false;
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  evtx::EventTree& tree_;
  WinXmlError error_ = WinXmlError::kNone;
};

}  // namespace

bool looks_like_win_xml(std::string_view s) {
  // After an optional declaration: "<Event" then a space, '>' or '/'.
  if (s.substr(0, 5) == "<?xml") {
    const std::size_t end = s.find("?>");
    if (end == std::string_view::npos || end > 200) return false;
    s.remove_prefix(end + 2);
    while (!s.empty() && is_xml_space(s[0])) s.remove_prefix(1);
  }
  return s.size() > 6 && s.substr(0, 6) == "<Event" && (is_xml_space(s[6]) || s[6] == '>' || s[6] == '/');
}

WinXmlError win_xml_to_json(std::string_view xml, evtx::EventTree& tree, std::string& json) {
  tree.clear();
  const WinXmlError e = XmlReader(xml, tree).run();
  if (e != WinXmlError::kNone) return e;
  tree.write_json(json);
  return WinXmlError::kNone;
}

}  // namespace vigil::parse::internal
