#include "core/evtx/evtx_file.h"

#include "core/time_text.h"
#include "core/utf8.h"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <cstring>

// Layout (all integers little-endian), as Microsoft's [MS-EVEN6] binary XML and the public
// format notes of libevtx and python-evtx describe it:
//   chunk:  "ElfChnk\0", first/last record number and id (u64 x4), header size (u32),
//           last record offset, free space offset, records CRC32 (u32 at 52), ... header CRC32
//           (u32 at 124, over bytes 0-120 and 128-512); records from offset 512.
//   record: magic 2a 2a 00 00, size (u32), record id (u64), written time (FILETIME), binary
//           XML, size again (u32, the last 4 bytes).
//   binary XML tokens (the 0x40 bit of a token is a flag: "has attributes" / "more follow"):
//     00 end of fragment             0f fragment header (3 bytes)
//     01 open start element: dependency id (u16; absent inside a substitution's binary XML and
//        in records without a template),
//        data size (u32), name offset (u32), [the name, when in place], attribute list size
//        (u32, with the 0x40 flag)
//     02 close start element         03 close empty element      04 end element
//     05 value: type (u8), then a UTF-16 string (u16 count + units), or a fixed-size value
//     06 attribute: name offset (u32)
//     07 CDATA (u16 count + UTF-16)  08 character reference (u16)  09 entity reference (name)
//     0a PI target (name)            0b PI data (u16 count + UTF-16)
//     0c template instance: 1 byte, template id (u32), definition offset (u32); the definition
//        (next offset u32, GUID, data size u32, binary XML) follows in place when its offset is
//        the current one; then the substitution values: count (u32), count x (size u16,
//        type u8, 0 u8), the values back to back
//     0d / 0e normal / optional substitution: index (u16), type (u8)
//   a name (at a chunk offset): next offset (u32), hash (u16), count (u16), UTF-16, u16 0; it
//   follows in place when its offset is the current one.

namespace vigil::evtx {

bool is_evtx(std::string_view head) {
  return head.size() >= 8 && std::memcmp(head.data(), "ElfFile\0", 8) == 0;
}

const char* to_string(EvtxDamage damage) {
  switch (damage) {
    case EvtxDamage::kNone: return "none";
    case EvtxDamage::kChunkHeader: return "evtx_chunk_header";
    case EvtxDamage::kRecordHeader: return "evtx_record_header";
    case EvtxDamage::kBinXml: return "evtx_binxml";
    case EvtxDamage::kCount: break;
  }
  return "unknown";
}

namespace {

constexpr std::uint32_t kChunk = static_cast<std::uint32_t>(kChunkSize);
constexpr std::uint32_t kRecordsStart = 512;
constexpr std::uint32_t kRecordMagic = 0x00002a2a;
constexpr int kMaxTemplateNesting = 8;  // template instances inside substitution values
constexpr std::uint32_t kMaxSubstitutions = 4096;
// Work and output bounds per record. Templates may instantiate templates and substitution
// values may be used many times, so a hostile chunk of 64 KiB could otherwise describe an
// exponential amount of work or text; a real event is far below both.
constexpr std::uint32_t kMaxTokensPerRecord = 1u << 20;
constexpr std::size_t kMaxTextPerRecord = std::size_t{8} << 20;

inline std::uint16_t u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
inline std::uint32_t u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline std::uint64_t u64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}


// UTF-16LE code units to UTF-8 (a lone surrogate becomes U+FFFD, so the output is always valid
// UTF-8). Trailing NULs are dropped, as Windows renders them; an embedded NUL ends the string.
void utf16_to_utf8(const std::uint8_t* p, std::size_t units, std::string& out) {
  while (units > 0 && u16(p + 2 * (units - 1)) == 0) --units;
  // ASCII fast path: most names and values are.
  std::size_t i = 0;
  const std::size_t base = out.size();
  out.resize(base + units);
  char* dst = out.data() + base;
  for (; i < units; ++i) {
    const std::uint16_t u = u16(p + 2 * i);
    if (u >= 0x80 || u == 0) break;
    dst[i] = static_cast<char>(u);
  }
  out.resize(base + i);
  for (; i < units; ++i) {
    std::uint32_t u = u16(p + 2 * i);
    if (u == 0) break;
    if (u >= 0xD800 && u <= 0xDBFF) {
      const std::uint32_t low = i + 1 < units ? u16(p + 2 * (i + 1)) : 0;
      if (low >= 0xDC00 && low <= 0xDFFF) {
        u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        ++i;
      } else {
        u = 0xFFFD;
      }
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      u = 0xFFFD;
    }
    append_utf8(out, u);
  }
}

void append_digits(std::string& out, std::uint64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 20);
  while (n < width) buf[n++] = '0';
  while (n > 0) out += buf[--n];
}

// "YYYY-MM-DDThh:mm:ss.ffffffZ", as evtx_dump writes times.
void append_iso(std::string& out, std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                unsigned s, unsigned micros) {
  if (y < 0 || y > 9999) y = 0;
  append_digits(out, static_cast<std::uint64_t>(y), 4);
  out += '-';
  append_digits(out, mo, 2);
  out += '-';
  append_digits(out, d, 2);
  out += 'T';
  append_digits(out, h, 2);
  out += ':';
  append_digits(out, mi, 2);
  out += ':';
  append_digits(out, s, 2);
  out += '.';
  append_digits(out, micros, 6);
  out += 'Z';
}

void append_filetime(std::string& out, std::uint64_t ft) {
  // 100 ns ticks since 1601-01-01; 11644473600 s from then to 1970.
  const std::uint64_t secs = ft / 10000000;
  const auto micros = static_cast<unsigned>((ft % 10000000) / 10);
  const std::int64_t unix_s = static_cast<std::int64_t>(secs) - 11644473600LL;
  std::int64_t days = unix_s / 86400;
  std::int64_t rem = unix_s % 86400;
  if (rem < 0) rem += 86400, --days;
  const CivilDate date = civil_from_days(days);
  append_iso(out, date.year, date.month, date.day, static_cast<unsigned>(rem / 3600),
             static_cast<unsigned>(rem / 60 % 60), static_cast<unsigned>(rem % 60), micros);
}

void append_hex(std::string& out, std::uint64_t v) {
  static const char kHex[] = "0123456789abcdef";
  out += "0x";
  char buf[16];
  int n = 0;
  do {
    buf[n++] = kHex[v & 15];
    v >>= 4;
  } while (v != 0);
  while (n > 0) out += buf[--n];
}

void append_hex_bytes_upper(std::string& out, const std::uint8_t* p, std::size_t n) {
  static const char kHex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
}

// "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}", as Windows renders a GUID.
void append_guid(std::string& out, const std::uint8_t* p) {
  static const char kHex[] = "0123456789ABCDEF";
  auto hex = [&](std::uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (4 * i)) & 15];
  };
  out += '{';
  hex(u32(p), 8);
  out += '-';
  hex(u16(p + 4), 4);
  out += '-';
  hex(u16(p + 6), 4);
  out += '-';
  append_hex_bytes_upper(out, p + 8, 2);
  out += '-';
  append_hex_bytes_upper(out, p + 10, 6);
  out += '}';
}

// "S-1-5-21-...". False when the size does not hold the sub-authorities it announces.
bool append_sid(std::string& out, const std::uint8_t* p, std::size_t size) {
  if (size < 8) return false;
  const unsigned count = p[1];
  if (size < 8 + 4u * count) return false;
  std::uint64_t authority = 0;
  for (int i = 2; i < 8; ++i) authority = authority << 8 | p[i];
  out += "S-";
  append_digits(out, p[0], 1);
  out += '-';
  append_digits(out, authority, 1);
  for (unsigned i = 0; i < count; ++i) {
    out += '-';
    append_digits(out, u32(p + 8 + 4 * i), 1);
  }
  return true;
}

template <typename T>
void append_number(std::string& out, T v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// One scalar value as Windows renders it, appended to `t`; *kind says how JSON writes it.
// False for a value too short for its type, a malformed SID, or a type with no rendering of
// its own (EvtHandle, binary XML, unknown): the caller writes those bytes as hex instead.
bool render_scalar(std::uint8_t type, const std::uint8_t* p, std::size_t size, std::string& t,
                   PieceType* kind) {
  *kind = PieceType::kNumber;
  switch (type) {
    case 0x01: *kind = PieceType::kString; utf16_to_utf8(p, size / 2, t); return true;
    case 0x02:  // ANSI string: code page unknown; Latin-1 keeps it valid UTF-8
      *kind = PieceType::kString;
      for (std::size_t i = 0; i < size && p[i] != 0; ++i) append_utf8(t, p[i]);
      return true;
    case 0x03: if (size < 1) return false; append_number(t, static_cast<std::int8_t>(p[0])); return true;
    case 0x04: if (size < 1) return false; append_number(t, p[0]); return true;
    case 0x05: if (size < 2) return false; append_number(t, static_cast<std::int16_t>(u16(p))); return true;
    case 0x06: if (size < 2) return false; append_number(t, u16(p)); return true;
    case 0x07: if (size < 4) return false; append_number(t, static_cast<std::int32_t>(u32(p))); return true;
    case 0x08: if (size < 4) return false; append_number(t, u32(p)); return true;
    case 0x09: if (size < 8) return false; append_number(t, static_cast<std::int64_t>(u64(p))); return true;
    case 0x0a: if (size < 8) return false; append_number(t, u64(p)); return true;
    case 0x0b: case 0x0c: {
      double v;
      if (type == 0x0b) {
        if (size < 4) return false;
        float f;
        std::memcpy(&f, p, 4);
        v = f;
        if (std::isfinite(f)) append_number(t, f);
      } else {
        if (size < 8) return false;
        std::memcpy(&v, p, 8);
        if (std::isfinite(v)) append_number(t, v);
      }
      if (!std::isfinite(v)) {  // JSON has no NaN or infinity
        *kind = PieceType::kString;
        t += std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
      }
      return true;
    }
    case 0x0d: {
      bool v = false;
      for (std::size_t i = 0; i < size; ++i) v = v || p[i] != 0;
      t += v ? "true" : "false";
      *kind = PieceType::kBool;
      return true;
    }
    default: break;
  }
  *kind = PieceType::kString;
  switch (type) {
    case 0x0e: append_hex_bytes_upper(t, p, size); return true;
    case 0x0f: if (size < 16) return false; append_guid(t, p); return true;
    case 0x10: append_hex(t, size >= 8 ? u64(p) : size >= 4 ? u32(p) : 0); return true;
    case 0x11: if (size < 8) return false; append_filetime(t, u64(p)); return true;
    case 0x12:  // SYSTEMTIME: year, month, day of week, day, hour, minute, second, ms
      if (size < 16) return false;
      append_iso(t, u16(p), u16(p + 2) % 13, u16(p + 6) % 32, u16(p + 8) % 24, u16(p + 10) % 60,
                 u16(p + 12) % 61, (u16(p + 14) % 1000) * 1000u);
      return true;
    case 0x13: return append_sid(t, p, size);
    case 0x14: if (size < 4) return false; append_hex(t, u32(p)); return true;
    case 0x15: if (size < 8) return false; append_hex(t, u64(p)); return true;
    case 0x23: utf16_to_utf8(p, size / 2, t); return true;  // EvtXml: XML text, UTF-16
    default: return false;
  }
}

// The size of a value of `type` written without a size (in a Value token), 0 when the type
// has none: integers, reals, booleans, GUID, FILETIME, SYSTEMTIME, hex integers, and a SID
// (from its sub-authority count, when `avail` bytes hold its header).
std::uint32_t fixed_value_size(std::uint8_t type, const std::uint8_t* p, std::uint32_t avail) {
  switch (type) {
    case 0x03: case 0x04: return 1;
    case 0x05: case 0x06: return 2;
    case 0x07: case 0x08: case 0x0b: case 0x0d: case 0x14: return 4;
    case 0x09: case 0x0a: case 0x0c: case 0x11: case 0x15: return 8;
    case 0x0f: case 0x12: return 16;
    case 0x13: return avail >= 2 ? 8 + 4u * p[1] : 0;
    default: return 0;
  }
}

struct Substitution {
  std::uint32_t offset = 0;  // in the chunk
  std::uint16_t size = 0;
  std::uint8_t type = 0;
};

}  // namespace

struct ChunkDecoder::Impl {
  const std::uint8_t* c = nullptr;  // the chunk
  EventTree tree;
  // Decoded names of this chunk, by offset. `names` is reserved once for the most any chunk can
  // need (each name's UTF-16 units at most 3 UTF-8 bytes each), so views into it stay valid.
  std::string names;
  struct NameSlot {
    std::uint32_t generation = 0;
    std::uint32_t start = 0, size = 0;
  };
  std::vector<NameSlot> name_slots = std::vector<NameSlot>(kChunkSize);
  std::uint32_t generation = 0;
  std::vector<Substitution> subs;  // the values of the template instances being walked
  std::uint32_t tokens_left = 0;   // this record's work budget (kMaxTokensPerRecord)

  static constexpr std::size_t kNamesCapacity = 4 * kChunkSize;

  Impl() { names.reserve(kNamesCapacity); }

  void start_chunk(const std::uint8_t* chunk) {
    c = chunk;
    names.clear();
    if (++generation == 0) {  // wrapped: forget every slot
      for (NameSlot& s : name_slots) s.generation = 0;
      generation = 1;
    }
  }

  // The name at chunk offset `off`. When it is in place (off == *pos), *pos moves past it.
  bool name_at(std::uint32_t off, std::uint32_t* pos, std::uint32_t end, std::string_view* out) {
    // Names live among the records (in templates and records), never in the chunk header, and
    // end with a NUL: checks that also tell the layouts of an element apart (open_element).
    if (off < kRecordsStart || off > kChunk - 8) return false;
    const std::uint32_t units = u16(c + off + 6);
    const std::uint32_t size = 8 + 2 * units + 2;
    if (size > kChunk - off || u16(c + off + size - 2) != 0) return false;
    if (off == *pos) {
      if (size > end - *pos) return false;
      *pos += size;
    }
    NameSlot& slot = name_slots[off];
    if (slot.generation != generation) {
      if (names.size() + 3 * units > kNamesCapacity) return false;  // overlapping names: hostile
      slot.start = static_cast<std::uint32_t>(names.size());
      utf16_to_utf8(c + off + 8, units, names);
      slot.size = static_cast<std::uint32_t>(names.size() - slot.start);
      slot.generation = generation;
    }
    *out = std::string_view(names.data() + slot.start, slot.size);
    return true;
  }

  // Appends a substitution value (not binary XML) as a text piece of the open attribute or
  // the current element. Every type renders: one Windows has no text form for (EvtHandle, an
  // unknown type) or a value too short for its type is written as its bytes in hex, so no
  // value is lost without trace. An empty value adds nothing (null, as Windows renders it).
  void value(std::uint8_t type, const std::uint8_t* p, std::size_t size) {
    if (type == 0x00) return;  // NullType: no value, whatever bytes it was given
    std::string& t = tree.text();
    const std::size_t start = t.size();
    PieceType kind = PieceType::kString;
    if (type & 0x80) {
      if (render_array(type & 0x7F, p, size, t)) kind = PieceType::kJsonArray;
      else append_hex_bytes_upper(t, p, size);
    } else if (!render_scalar(type, p, size, t, &kind)) {
      t.resize(start);
      kind = PieceType::kString;
      append_hex_bytes_upper(t, p, size);
    }
    if (kind == PieceType::kString && t.size() == start) return;
    tree.add_piece(start, kind);
  }

  // An array value (type 0x80 | item type) as one JSON array, as evtx_dump writes arrays:
  // strings and ANSI strings each ended by a NUL, SIDs each sized by its own header, size_t
  // items 8 bytes wide (4 when the size is not a multiple of 8: a 32-bit writer), the other
  // types their fixed width. False for an item type with no array form (binary, binary XML).
  bool render_array(std::uint8_t type, const std::uint8_t* p, std::size_t size, std::string& t) {
    std::size_t width = 0;
    switch (type) {
      case 0x01: case 0x02: case 0x13: break;
      case 0x03: case 0x04: width = 1; break;
      case 0x05: case 0x06: width = 2; break;
      case 0x07: case 0x08: case 0x0b: case 0x0d: case 0x14: width = 4; break;
      case 0x09: case 0x0a: case 0x0c: case 0x11: case 0x15: width = 8; break;
      case 0x10: width = size % 8 == 0 ? 8 : 4; break;
      case 0x0f: case 0x12: width = 16; break;
      default: return false;
    }
    t += '[';
    bool first = true;
    auto add = [&](const std::uint8_t* q, std::size_t n) {
      item.clear();
      PieceType kind;
      if (!render_scalar(type, q, n, item, &kind)) {
        item.clear();
        kind = PieceType::kString;
        append_hex_bytes_upper(item, q, n);
      }
      if (!first) t += ',';
      first = false;
      if (kind == PieceType::kString) {
        t += '"';
        EventTree::append_escaped(t, item);
        t += '"';
      } else {
        t += item;
      }
    };
    if (type == 0x01 || type == 0x02) {  // each ended by a NUL (a UTF-16 unit, or a byte)
      const std::size_t unit = type == 0x01 ? 2 : 1;
      const std::size_t units = size / unit;
      auto at = [&](std::size_t k) { return unit == 2 ? u16(p + 2 * k) : p[k]; };
      std::size_t i = 0;
      while (i < units) {
        std::size_t j = i;
        while (j < units && at(j) != 0) ++j;
        add(p + unit * i, unit * (j - i));
        i = j + 1;
      }
    } else if (type == 0x13) {
      std::size_t off = 0;
      while (off < size) {
        const std::size_t left = size - off;
        const std::size_t n = left >= 8 ? 8 + 4u * p[off + 1] : left;
        add(p + off, n <= left ? n : left);  // a SID cut short is written in hex
        off += n <= left ? n : left;
      }
    } else {
      std::size_t off = 0;
      for (; off + width <= size; off += width) add(p + off, width);
      if (off < size) add(p + off, size - off);  // a partial last item: its bytes in hex
    }
    t += ']';
    return true;
  }

  std::string item;  // scratch for array items

  // Walks binary XML in [pos, end) into the tree. `subs_base`/`subs_count`: the substitution
  // values of the enclosing template instance. `in_value`: the fragment is a substitution
  // value's binary XML, whose elements have no dependency id.
  bool fragment(std::uint32_t pos, std::uint32_t end, std::size_t subs_base, std::size_t subs_count,
                bool in_value, int nesting, std::uint32_t* out_pos);
  bool template_instance(std::uint32_t* pos, std::uint32_t end, int nesting);
  bool substitution(const Substitution& s, bool optional, int nesting);
  bool open_element(std::uint32_t* pos, std::uint32_t end, std::uint8_t token, bool in_value);
};

// ---------------------------------------------------------------------------------------------

bool ChunkDecoder::Impl::open_element(std::uint32_t* pos, std::uint32_t end, std::uint8_t token,
                                      bool in_value) {
  const bool attrs = (token & 0x40) != 0;
  // With or without the dependency id: the expected layout first, the other when its name
  // offset is not plausible (it is absent inside substitution values and in records written
  // without a template, e.g. some forwarded events).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool with_dependency = (attempt == 0) != in_value;
    std::uint32_t p = *pos + 1 + (with_dependency ? 2 : 0);
    if (p + 8 > end) continue;
    const std::uint32_t name_off = u32(c + p + 4);
    p += 8;
    // A name is in place, or earlier in the chunk (written before this use). An in-place name
    // comes before the attribute list size.
    if (name_off != p && name_off >= p) continue;
    std::string_view name;
    if (!name_at(name_off, &p, end, &name)) continue;
    if (attrs) {
      if (end - p < 4) continue;
      p += 4;
    }
    if (!tree.open_element(name)) return false;
    *pos = p;
    return true;
  }
  return false;
}

bool ChunkDecoder::Impl::substitution(const Substitution& s, bool optional, int nesting) {
  if (optional && (s.type == 0x00 || s.size == 0)) return true;  // left out, as Windows does
  if (s.type == 0x21) {  // binary XML: its elements join the tree here
    if (tree.in_attribute()) return true;
    std::uint32_t after = 0;
    return fragment(s.offset, s.offset + s.size, 0, 0, true, nesting + 1, &after);
  }
  value(s.type, c + s.offset, s.size);
  return true;
}

bool ChunkDecoder::Impl::template_instance(std::uint32_t* pos, std::uint32_t end, int nesting) {
  if (nesting >= kMaxTemplateNesting) return false;
  std::uint32_t p = *pos;
  if (end - p < 10) return false;
  const std::uint32_t def = u32(c + p + 6);
  p += 10;
  std::uint32_t body, body_end;
  if (def == p) {  // the definition is in place
    if (end - p < 24) return false;
    const std::uint32_t data_size = u32(c + p + 20);
    if (data_size > end - p - 24) return false;
    body = p + 24;
    body_end = body + data_size;
    p = body_end;
  } else {
    if (def >= p || def < kRecordsStart || def > kChunk - 24) return false;
    const std::uint32_t data_size = u32(c + def + 20);
    if (data_size > kChunk - def - 24) return false;
    body = def + 24;
    body_end = body + data_size;
  }
  if (end - p < 4) return false;
  const std::uint32_t count = u32(c + p);
  p += 4;
  if (count > kMaxSubstitutions || count * 4ull > end - p) return false;
  const std::size_t base = subs.size();
  std::uint32_t data = p + count * 4;
  for (std::uint32_t i = 0; i < count; ++i) {
    Substitution s;
    s.size = u16(c + p + 4 * i);
    s.type = c[p + 4 * i + 2];
    s.offset = data;
    if (s.size > end - data) {
      subs.resize(base);
      return false;
    }
    data += s.size;
    subs.push_back(s);
  }
  *pos = data;
  std::uint32_t after = 0;
  const bool ok = fragment(body, body_end, base, count, false, nesting + 1, &after);
  subs.resize(base);
  return ok;
}

bool ChunkDecoder::Impl::fragment(std::uint32_t pos, std::uint32_t end, std::size_t subs_base,
                                  std::size_t subs_count, bool in_value, int nesting,
                                  std::uint32_t* out_pos) {
  if (nesting > kMaxTemplateNesting || end > kChunk || pos > end) return false;
  const int start_depth = tree.depth();
  std::string& t = tree.text();
  while (pos < end) {
    if (--tokens_left == 0 || t.size() > kMaxTextPerRecord) return false;
    const std::uint8_t token = c[pos];
    switch (token & 0xBF) {
      case 0x00:  // end of fragment
        *out_pos = pos + 1;
        return true;
      case 0x0f:
        if (end - pos < 4) return false;
        pos += 4;
        break;
      case 0x0c:
        if (!template_instance(&pos, end, nesting)) return false;
        break;
      case 0x01:
        if (!open_element(&pos, end, token, in_value)) return false;
        break;
      case 0x02:
        tree.end_attribute();
        ++pos;
        break;
      case 0x03:
      case 0x04:
        if (tree.depth() <= start_depth) return false;  // closes more than it opened
        tree.close_element();
        ++pos;
        break;
      case 0x05: {
        if (end - pos < 2) return false;
        const std::uint8_t type = c[pos + 1];
        if (type == 0x01) {  // the usual one: a string (u16 count, UTF-16)
          if (end - pos < 4) return false;
          const std::uint32_t units = u16(c + pos + 2);
          if (units * 2u > end - pos - 4) return false;
          const std::size_t start = t.size();
          utf16_to_utf8(c + pos + 4, units, t);
          tree.add_piece(start, PieceType::kString);
          pos += 4 + units * 2;
          break;
        }
        // Fixed-size values (binary XML without templates, e.g. forwarded events).
        const std::uint32_t size = fixed_value_size(type, c + pos + 2, end - pos - 2);
        if (size == 0 || size > end - pos - 2) return false;
        value(type, c + pos + 2, size);
        pos += 2 + size;
        break;
      }
      case 0x06: {
        if (end - pos < 5) return false;
        const std::uint32_t name_off = u32(c + pos + 1);
        pos += 5;
        if (name_off != pos && name_off >= pos) return false;
        std::string_view name;
        if (!name_at(name_off, &pos, end, &name)) return false;
        tree.begin_attribute(name);
        break;
      }
      case 0x07: {  // CDATA
        if (end - pos < 3) return false;
        const std::uint32_t units = u16(c + pos + 1);
        if (units * 2u > end - pos - 3) return false;
        const std::size_t start = t.size();
        utf16_to_utf8(c + pos + 3, units, t);
        tree.add_piece(start, PieceType::kString);
        pos += 3 + units * 2;
        break;
      }
      case 0x08: {  // character reference
        if (end - pos < 3) return false;
        const std::size_t start = t.size();
        std::uint32_t cp = u16(c + pos + 1);
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        append_utf8(t, cp);
        tree.add_piece(start, PieceType::kString);
        pos += 3;
        break;
      }
      case 0x09: {  // entity reference: &amp; and friends
        if (end - pos < 5) return false;
        const std::uint32_t name_off = u32(c + pos + 1);
        pos += 5;
        if (name_off != pos && name_off >= pos) return false;
        std::string_view name;
        if (!name_at(name_off, &pos, end, &name)) return false;
        const char* s = name == "amp" ? "&" : name == "lt" ? "<" : name == "gt" ? ">"
                      : name == "quot" ? "\"" : name == "apos" ? "'" : nullptr;
        if (s != nullptr) tree.add_text(s);
        break;
      }
      case 0x0a: {  // processing instruction target: not part of the event's fields
        if (end - pos < 5) return false;
        const std::uint32_t name_off = u32(c + pos + 1);
        pos += 5;
        if (name_off != pos && name_off >= pos) return false;
        std::string_view name;
        if (!name_at(name_off, &pos, end, &name)) return false;
        break;
      }
      case 0x0b: {  // processing instruction data
        if (end - pos < 3) return false;
        const std::uint32_t units = u16(c + pos + 1);
        if (units * 2u > end - pos - 3) return false;
        pos += 3 + units * 2;
        break;
      }
      case 0x0d:
      case 0x0e: {
        if (end - pos < 4) return false;
        const std::uint16_t index = u16(c + pos + 1);
        pos += 4;
        if (index >= subs_count) break;  // no such value: nothing to render
        const Substitution s = subs[subs_base + index];
        if (!substitution(s, (token & 0xBF) == 0x0e, nesting)) return false;
        break;
      }
      default:
        return false;
    }
  }
  *out_pos = pos;
  return true;  // ran to the end of its bytes (a substitution's fragment may end so)
}

// ---------------------------------------------------------------------------------------------

ChunkDecoder::ChunkDecoder() : impl_(std::make_unique<Impl>()) {}
ChunkDecoder::~ChunkDecoder() = default;

namespace {

bool all_zero(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace

void ChunkDecoder::decode(const std::uint8_t* block, std::size_t padding, std::string& out,
                          std::vector<DecodedRecord>& records, EvtxStats& stats) {
  if (std::memcmp(block, "ElfChnk\0", 8) != 0) {
    if (all_zero(block, kChunkSize)) {
      ++stats.unused_blocks;
    } else {
      ++stats.damaged[static_cast<std::size_t>(EvtxDamage::kChunkHeader)];
      records.push_back(DecodedRecord{0, out.size(), 0, EvtxDamage::kChunkHeader});
    }
    return;
  }
  ++stats.chunks;
  // The header checksum is checked and counted, not enforced: like evtx_dump's default, a chunk
  // whose CRC is off is still read record by record, each record checked on its own structure.
  // (The records' CRC over up to 64 KiB is not computed: it would only feed this count.)
  {
    std::uint32_t crc = static_cast<std::uint32_t>(crc32(0L, Z_NULL, 0));
    crc = static_cast<std::uint32_t>(crc32(crc, block, 120));
    crc = static_cast<std::uint32_t>(crc32(crc, block + 128, 512 - 128));
    if (crc != u32(block + 124)) ++stats.checksum_mismatches;
  }
  Impl& im = *impl_;
  im.start_chunk(block);
  std::uint32_t end = u32(block + 48);
  if (end < kRecordsStart || end > kChunk) end = kChunk;
  // The record ids the header says this chunk holds. After damage, a record found again by its
  // magic must be one of them: damaged space can hold stale pages of another chunk (a shadow
  // copy's, or slack), whose records are real but not this chunk's, and whose templates are
  // at offsets of that other chunk: decoded here they would be read through this chunk's
  // bytes. They stay part of the damaged stretch (counted in stats.stale_records).
  const std::uint64_t first_id = u64(block + 24), last_id = u64(block + 32);
  const bool ids_known = first_id <= last_id && last_id != 0;
  std::uint32_t pos = kRecordsStart;
  bool resyncing = false;  // looking for the next record after a damaged header
  while (pos + 28 <= end) {
    const std::uint32_t size = u32(block + pos + 4);
    const bool shape_ok = u32(block + pos) == kRecordMagic && size >= 28 && size <= end - pos;
    // The size copy at the record's end is zero in the last record before space that was wiped;
    // its binary XML is often whole, so such a record is decoded (and counted damaged only if
    // that fails). When looking for the next record after damage, the copy must match.
    const bool copy_ok = shape_ok && u32(block + pos + size - 4) == size;
    bool foreign = false;
    if (resyncing && copy_ok && ids_known) {
      const std::uint64_t id = u64(block + pos + 8);
      foreign = id < first_id || id > last_id;
      if (foreign) ++stats.stale_records;
    }
    if (!shape_ok || (resyncing && (!copy_ok || foreign))) {
      if (!resyncing) {
        // Zeros after the last record are the chunk's unused tail, not damage.
        if (all_zero(block + pos, end - pos)) break;
        resyncing = true;
        ++stats.damaged[static_cast<std::size_t>(EvtxDamage::kRecordHeader)];
        records.push_back(DecodedRecord{0, out.size(), 0, EvtxDamage::kRecordHeader});
      }
      pos += 4;  // records are 4-byte aligned (sizes are multiples of 8 in practice)
      continue;
    }
    resyncing = false;
    const std::uint64_t id = u64(block + pos + 8);
    im.tree.clear();
    im.tokens_left = kMaxTokensPerRecord;
    std::uint32_t after = 0;
    const bool ok = im.fragment(pos + 24, pos + size - 4, 0, 0, false, 0, &after) && !im.tree.empty() &&
                    im.tree.depth() == 0;
    im.subs.clear();
    if (!ok) {
      const EvtxDamage why = copy_ok ? EvtxDamage::kBinXml : EvtxDamage::kRecordHeader;
      ++stats.damaged[static_cast<std::size_t>(why)];
      records.push_back(DecodedRecord{id, out.size(), 0, why});
    } else {
      const std::size_t start = out.size();
      im.tree.write_json(out);
      records.push_back(DecodedRecord{id, start, out.size() - start, EvtxDamage::kNone});
      out.append(padding, '\0');
      ++stats.records;
    }
    pos += size;
  }
}

}  // namespace vigil::evtx
