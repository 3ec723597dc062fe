#pragma once
// EventTree: one Windows event as the element tree of Windows' event XML (<Event><System>...
// <EventData><Data Name='x'>v</Data>...), written as JSON in the layout `evtx_dump -o jsonl`
// prints. The EVTX decoder (core/evtx/evtx_file.h) and the Windows event XML format
// (core/parse/win_xml.cpp) both build one, so both reach the JSON parser's one Windows layout
// mapping (core/parse/json_parser.cpp) and give rules exactly the field names and values
// evtx_dump JSON gives: there is one mapping of System and EventData names, not three.
//
// The JSON layout (as evtx_dump writes it):
//   - an element with neither attributes nor child elements is its value: null when it has no
//     text, the typed value when it has one piece (numbers stay numbers), else the pieces
//     joined as one string;
//   - otherwise an object: "#attributes": {name: value} (attributes without a value are left
//     out, as Windows renders an empty optional substitution), one member per child element
//     (repeated names repeat the key), and "#text" for the text beside child elements;
//   - inside EventData, <Data Name='x'>v</Data> becomes "x": v, and unnamed Data elements one
//     "Data" member ({"#text": [v1, v2...]} when there are several).
//
// Thread-safety: one thread at a time; reused from record to record (clear()), so memory is
// allocated only while its vectors grow to the largest event seen.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::evtx {

// How a text piece is written in JSON.
enum class PieceType : std::uint8_t {
  kString,  // quoted and escaped
  kNumber,  // written as is (the decoder guarantees a valid JSON number)
  kBool,    // "true" / "false" as is
  kJsonArray,  // a ready JSON array (EVTX array values), written as is when it is the only
               // piece; joined with other pieces, its text is quoted like a string
};

class EventTree {
 public:
  // Deeper elements are refused (open_element returns false): no Windows event nests past a
  // handful of levels, and it bounds the writer's recursion whatever the input.
  static constexpr int kMaxDepth = 64;

  void clear();

  // Opens a child element of the current one (the root when none is open); it becomes current.
  // `name` must stay valid until write_json. False when too deep.
  bool open_element(std::string_view name);
  // Closes the current element (ends an open attribute first). False when none is open.
  bool close_element();
  int depth() const { return depth_; }

  // Starts an attribute of the current element: text added next goes to it until
  // end_attribute(), the next begin_attribute() or close_element().
  void begin_attribute(std::string_view name);
  void end_attribute() { attr_open_ = false; }
  bool in_attribute() const { return attr_open_; }

  // The buffer text pieces live in: append UTF-8 to it, then add_piece(start, type) with the
  // size it had before. Kept in one buffer so that a piece costs no allocation.
  std::string& text() { return text_; }
  // Adds text_[start, end) as a piece of the open attribute, or of the current element. A
  // piece outside any element (text before the root) is dropped.
  void add_piece(std::size_t start, PieceType type);
  void add_text(std::string_view utf8, PieceType type = PieceType::kString) {
    const std::size_t start = text_.size();
    text_.append(utf8);
    add_piece(start, type);
  }

  bool empty() const { return elements_.empty(); }
  // Appends the tree as one JSON object: {"<root name>": <root value>}. Writes "{}" for an
  // empty tree. The text must be valid UTF-8 for the output to be valid JSON (the decoders
  // make it so; XML input passes its bytes through and the JSON parser rejects bad UTF-8).
  void write_json(std::string& out) const;

  // Appends `s` to `out` as a JSON string's content (no quotes): '"', '\\' and control
  // characters escaped.
  static void append_escaped(std::string& out, std::string_view s);

 private:
  struct Piece {
    std::uint32_t start, size;
    PieceType type;
    std::int32_t next;
  };
  struct PieceList {
    std::int32_t first = -1, last = -1;
    std::uint32_t count = 0;
  };
  struct Attribute {
    std::string_view name;
    PieceList pieces;
    std::int32_t next = -1;
  };
  struct Element {
    std::string_view name;
    std::int32_t parent = -1;
    std::int32_t first_child = -1, last_child = -1, next_sibling = -1;
    std::int32_t first_attr = -1, last_attr = -1;
    PieceList pieces;
  };

  void write_value(std::string& out, const Element& e) const;
  void write_pieces(std::string& out, const PieceList& list) const;
  void write_event_data(std::string& out, const Element& e, bool& first) const;
  const Attribute* attribute(const Element& e, std::string_view name) const;
  std::string_view joined(const PieceList& list, std::string& scratch) const;

  std::vector<Element> elements_;
  std::vector<Attribute> attributes_;
  std::vector<Piece> pieces_;
  std::string text_;
  std::int32_t current_ = -1;
  int depth_ = 0;
  bool attr_open_ = false;
  mutable std::string scratch_;
};

}  // namespace vigil::evtx
