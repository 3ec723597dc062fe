#include "storage/alert_codec.h"

#include "core/hex.h"

#include <limits>

namespace vigil::storage {

void put_big_endian64(std::string* out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint64_t get_big_endian64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::string make_alert_key(std::int64_t created_unix_ns, std::uint64_t sequence) {
  std::string key;
  key.reserve(kAlertKeySize);
  // Commit times are after 1970, so the unsigned reading of the signed value keeps their order.
  put_big_endian64(&key, static_cast<std::uint64_t>(created_unix_ns));
  put_big_endian64(&key, sequence);
  return key;
}

std::int64_t alert_key_created_unix_ns(std::string_view key) {
  return static_cast<std::int64_t>(get_big_endian64(key));
}

std::string alert_id_from_key(std::string_view key) { return to_hex(key); }

namespace {

void put_varint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void put_signed(std::string* out, std::int64_t v) {
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void put_string(std::string* out, std::string_view s) {
  put_varint(out, s.size());
  out->append(s);
}

void put_fields(std::string* out, const std::vector<AlertField>& fields) {
  put_varint(out, fields.size());
  for (const AlertField& f : fields) {
    put_string(out, f.name);
    put_string(out, f.value);
  }
}

// Reads the value front to back; the first failure sticks and every later read returns empty.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }
  bool at_end() const { return rest_.empty(); }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return fail();
      auto byte = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    return fail();  // more than 10 bytes: not a varint we wrote
  }
  std::int64_t signed_varint() {
    std::uint64_t z = varint();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::uint8_t byte() {
    if (rest_.empty()) return static_cast<std::uint8_t>(fail());
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::string string() {
    std::uint64_t n = varint();
    if (!ok_ || n > rest_.size()) return fail(), std::string();
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }
  // A list length, refused when even one byte per element could not fit in what is left, so a
  // corrupt length cannot make us reserve gigabytes.
  std::uint64_t count() {
    std::uint64_t n = varint();
    if (n > rest_.size()) return fail();
    return n;
  }
  std::vector<AlertField> fields() {
    std::vector<AlertField> out;
    std::uint64_t n = count();
    out.reserve(n);
    for (std::uint64_t i = 0; i < n && ok_; ++i) {
      AlertField f;
      f.name = string();
      f.value = string();
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  std::uint64_t fail() {
    ok_ = false;
    rest_ = {};
    return 0;
  }
  std::string_view rest_;
  bool ok_ = true;
};

}  // namespace

Result<std::string> alert_key_from_id(std::string_view id) {
  if (id.size() != kAlertKeySize * 2)
    return Error(Status::InvalidArgument("alert id '" + std::string(id) + "' is not 32 hex digits"));
  std::string key;
  if (!from_hex(id, &key))
    return Error(Status::InvalidArgument("alert id '" + std::string(id) + "' is not 32 hex digits"));
  return key;
}

std::string encode_alert(const Alert& a) {
  std::string out;
  out.reserve(64 + a.raw.size() + a.rule_title.size() + a.rule_path.size());
  out.push_back(static_cast<char>(kAlertValueVersion));
  put_signed(&out, a.received_unix_ns);
  put_signed(&out, a.event_unix_ns);
  put_string(&out, a.event_time);
  put_string(&out, a.rule_id);
  put_string(&out, a.rule_title);
  put_string(&out, a.rule_path);
  out.push_back(static_cast<char>(a.level));
  put_varint(&out, a.tags.size());
  for (const std::string& tag : a.tags) put_string(&out, tag);
  put_string(&out, a.tenant);
  put_string(&out, a.system);
  put_string(&out, a.host);
  put_string(&out, a.collector);
  put_string(&out, a.peer);
  put_varint(&out, a.record_no);
  put_string(&out, a.format);
  put_fields(&out, a.matched);
  put_fields(&out, a.fields);
  put_string(&out, a.raw);
  out.push_back(static_cast<char>(a.status));
  out.push_back(static_cast<char>(a.resolution));
  put_string(&out, a.assignee);
  put_varint(&out, a.count);
  for (const auto* list : {&a.attack_tactics, &a.attack_techniques}) {
    put_varint(&out, list->size());
    for (const std::string& s : *list) put_string(&out, s);
  }
  return out;
}

Status decode_alert(std::string_view key, std::string_view value, Alert* out) {
  if (key.size() != kAlertKeySize)
    return Status::ParseError("alert key of " + std::to_string(key.size()) + " bytes, expected 16");
  Reader in(value);
  std::uint8_t version = in.byte();
  if (!in.ok() || (version != kAlertValueVersion && version != kAlertValueVersionWithoutAttack))
    return Status::ParseError("alert " + alert_id_from_key(key) + ": unknown value version " +
                              std::to_string(version));
  Alert a;
  a.id = alert_id_from_key(key);
  a.created_unix_ns = alert_key_created_unix_ns(key);
  a.received_unix_ns = in.signed_varint();
  a.event_unix_ns = in.signed_varint();
  a.event_time = in.string();
  a.rule_id = in.string();
  a.rule_title = in.string();
  a.rule_path = in.string();
  std::uint8_t level = in.byte();
  std::uint64_t tag_count = in.count();
  a.tags.reserve(tag_count);
  for (std::uint64_t i = 0; i < tag_count && in.ok(); ++i) a.tags.push_back(in.string());
  a.tenant = in.string();
  a.system = in.string();
  a.host = in.string();
  a.collector = in.string();
  a.peer = in.string();
  a.record_no = in.varint();
  a.format = in.string();
  a.matched = in.fields();
  a.fields = in.fields();
  a.raw = in.string();
  std::uint8_t status = in.byte();
  std::uint8_t resolution = in.byte();
  a.assignee = in.string();
  std::uint64_t count = in.varint();
  if (version >= 2)
    for (auto* list : {&a.attack_tactics, &a.attack_techniques}) {
      const std::uint64_t n = in.count();
      list->reserve(n);
      for (std::uint64_t i = 0; i < n && in.ok(); ++i) list->push_back(in.string());
    }
  if (!in.ok()) return Status::ParseError("alert " + a.id + ": truncated value");
  if (!in.at_end()) return Status::ParseError("alert " + a.id + ": trailing bytes after the value");
  if (level > static_cast<std::uint8_t>(AlertLevel::kCritical) ||
      status > static_cast<std::uint8_t>(AlertStatus::kClosed) ||
      resolution > static_cast<std::uint8_t>(AlertResolution::kDuplicate) ||
      count > std::numeric_limits<std::uint32_t>::max())
    return Status::ParseError("alert " + a.id + ": level, status, resolution or count out of range");
  a.level = static_cast<AlertLevel>(level);
  a.status = static_cast<AlertStatus>(status);
  a.resolution = static_cast<AlertResolution>(resolution);
  a.count = static_cast<std::uint32_t>(count);
  *out = std::move(a);
  return Status::Ok();
}

}  // namespace vigil::storage
