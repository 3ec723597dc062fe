#include "core/evtx/event_tree.h"

#include "core/json_text.h"

namespace vigil::evtx {

void EventTree::clear() {
  elements_.clear();
  attributes_.clear();
  pieces_.clear();
  text_.clear();
  current_ = -1;
  depth_ = 0;
  attr_open_ = false;
}

bool EventTree::open_element(std::string_view name) {
  if (depth_ >= kMaxDepth) return false;
  attr_open_ = false;
  const auto index = static_cast<std::int32_t>(elements_.size());
  Element e;
  e.name = name;
  e.parent = current_;
  elements_.push_back(e);
  if (current_ >= 0) {
    Element& parent = elements_[static_cast<std::size_t>(current_)];
    if (parent.last_child >= 0) elements_[static_cast<std::size_t>(parent.last_child)].next_sibling = index;
    else parent.first_child = index;
    parent.last_child = index;
  } else if (index > 0) {
    // A second root: kept out of the tree (XML has one root); its children still nest in it.
    elements_.back().parent = -2;
  }
  current_ = index;
  ++depth_;
  return true;
}

bool EventTree::close_element() {
  attr_open_ = false;
  if (current_ < 0) return false;
  const std::int32_t parent = elements_[static_cast<std::size_t>(current_)].parent;
  current_ = parent < 0 ? -1 : parent;
  --depth_;
  return true;
}

void EventTree::begin_attribute(std::string_view name) {
  if (current_ < 0) return;
  const auto index = static_cast<std::int32_t>(attributes_.size());
  attributes_.push_back(Attribute{name, {}, -1});
  Element& e = elements_[static_cast<std::size_t>(current_)];
  if (e.last_attr >= 0) attributes_[static_cast<std::size_t>(e.last_attr)].next = index;
  else e.first_attr = index;
  e.last_attr = index;
  attr_open_ = true;
}

void EventTree::add_piece(std::size_t start, PieceType type) {
  if (current_ < 0 || start > text_.size()) return;
  PieceList& list = attr_open_ ? attributes_.back().pieces : elements_[static_cast<std::size_t>(current_)].pieces;
  const auto index = static_cast<std::int32_t>(pieces_.size());
  pieces_.push_back(Piece{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(text_.size() - start), type, -1});
  if (list.last >= 0) pieces_[static_cast<std::size_t>(list.last)].next = index;
  else list.first = index;
  list.last = index;
  ++list.count;
}

void EventTree::append_escaped(std::string& out, std::string_view s) {
  // The escaping every JSON writer shares, so a rule literal's escaped form is found in an EVTX
  // record's JSON as in any other JSON record. Values are kept byte for byte.
  append_json_escaped(out, s, InvalidUtf8::kKeep);
}

std::string_view EventTree::joined(const PieceList& list, std::string& scratch) const {
  scratch.clear();
  for (std::int32_t i = list.first; i >= 0; i = pieces_[static_cast<std::size_t>(i)].next) {
    const Piece& p = pieces_[static_cast<std::size_t>(i)];
    scratch.append(text_, p.start, p.size);
  }
  return scratch;
}

void EventTree::write_pieces(std::string& out, const PieceList& list) const {
  if (list.count == 0) {
    out += "null";
    return;
  }
  if (list.count == 1) {
    const Piece& p = pieces_[static_cast<std::size_t>(list.first)];
    const std::string_view s(text_.data() + p.start, p.size);
    if (p.type != PieceType::kString) {
      out += s;
      return;
    }
    out += '"';
    append_escaped(out, s);
    out += '"';
    return;
  }
  out += '"';
  for (std::int32_t i = list.first; i >= 0; i = pieces_[static_cast<std::size_t>(i)].next) {
    const Piece& p = pieces_[static_cast<std::size_t>(i)];
    append_escaped(out, std::string_view(text_.data() + p.start, p.size));
  }
  out += '"';
}

const EventTree::Attribute* EventTree::attribute(const Element& e, std::string_view name) const {
  for (std::int32_t i = e.first_attr; i >= 0; i = attributes_[static_cast<std::size_t>(i)].next) {
    const Attribute& a = attributes_[static_cast<std::size_t>(i)];
    if (a.name == name) return &a;
  }
  return nullptr;
}

// EventData's children: named Data as "Name": value, unnamed Data gathered into one "Data".
void EventTree::write_event_data(std::string& out, const Element& e, bool& first) const {
  auto sep = [&] {
    if (!first) out += ',';
    first = false;
  };
  std::uint32_t unnamed = 0;
  for (std::int32_t c = e.first_child; c >= 0; c = elements_[static_cast<std::size_t>(c)].next_sibling) {
    const Element& child = elements_[static_cast<std::size_t>(c)];
    if (child.name != "Data") continue;
    const Attribute* name = attribute(child, "Name");
    if (name == nullptr || name->pieces.count == 0) ++unnamed;
  }
  bool unnamed_written = false;
  for (std::int32_t c = e.first_child; c >= 0; c = elements_[static_cast<std::size_t>(c)].next_sibling) {
    const Element& child = elements_[static_cast<std::size_t>(c)];
    const Attribute* name = child.name == "Data" ? attribute(child, "Name") : nullptr;
    if (child.name == "Data" && (name == nullptr || name->pieces.count == 0)) {
      if (unnamed_written) continue;
      unnamed_written = true;
      sep();
      out += "\"Data\":";
      if (unnamed == 1) {
        write_value(out, child);
        continue;
      }
      out += "{\"#text\":[";
      bool first_item = true;
      for (std::int32_t d = e.first_child; d >= 0; d = elements_[static_cast<std::size_t>(d)].next_sibling) {
        const Element& item = elements_[static_cast<std::size_t>(d)];
        if (item.name != "Data") continue;
        const Attribute* n = attribute(item, "Name");
        if (n != nullptr && n->pieces.count > 0) continue;
        if (!first_item) out += ',';
        first_item = false;
        write_pieces(out, item.pieces);
      }
      out += "]}";
      continue;
    }
    sep();
    out += '"';
    if (name != nullptr) {
      append_escaped(out, joined(name->pieces, scratch_));
      out += "\":";
      write_pieces(out, child.pieces);
    } else {
      append_escaped(out, child.name);
      out += "\":";
      write_value(out, child);
    }
  }
}

void EventTree::write_value(std::string& out, const Element& e) const {
  bool has_attrs = false;
  for (std::int32_t i = e.first_attr; i >= 0; i = attributes_[static_cast<std::size_t>(i)].next)
    has_attrs = has_attrs || attributes_[static_cast<std::size_t>(i)].pieces.count > 0;
  if (!has_attrs && e.first_child < 0) {
    write_pieces(out, e.pieces);
    return;
  }
  out += '{';
  bool first = true;
  if (has_attrs) {
    out += "\"#attributes\":{";
    bool first_attr = true;
    for (std::int32_t i = e.first_attr; i >= 0; i = attributes_[static_cast<std::size_t>(i)].next) {
      const Attribute& a = attributes_[static_cast<std::size_t>(i)];
      if (a.pieces.count == 0) continue;
      if (!first_attr) out += ',';
      first_attr = false;
      out += '"';
      append_escaped(out, a.name);
      out += "\":";
      write_pieces(out, a.pieces);
    }
    out += '}';
    first = false;
  }
  if (e.name == "EventData") {
    write_event_data(out, e, first);
  } else {
    for (std::int32_t c = e.first_child; c >= 0; c = elements_[static_cast<std::size_t>(c)].next_sibling) {
      const Element& child = elements_[static_cast<std::size_t>(c)];
      if (!first) out += ',';
      first = false;
      out += '"';
      append_escaped(out, child.name);
      out += "\":";
      write_value(out, child);
    }
  }
  if (e.pieces.count > 0) {
    if (!first) out += ',';
    out += "\"#text\":";
    write_pieces(out, e.pieces);
  }
  out += '}';
}

void EventTree::write_json(std::string& out) const {
  if (elements_.empty()) {
    out += "{}";
    return;
  }
  const Element& root = elements_[0];
  out += "{\"";
  append_escaped(out, root.name);
  out += "\":";
  write_value(out, root);
  out += '}';
}

}  // namespace vigil::evtx
