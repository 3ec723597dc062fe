#include "rules/logsource_map.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <tuple>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "rules/condition_parser.h"
#include "rules/value_modifiers.h"
#include "core/ascii.h"

// Generated from rules/mapping/logsources.yml by cmake/embed_text.cmake (NUL-terminated).
extern const char kBuiltinLogsourceMapping[];

namespace vigil::rules {
namespace {

constexpr const char* kBuiltinOrigin = "builtin:rules/mapping/logsources.yml";



// The parse error carrier: becomes "origin:line: reason: message".
struct MappingError {
  int line = 0;
  std::string reason, message;
};

int line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? 0 : m.line + 1;
}

tl::unexpected<MappingError> fail(const YAML::Node& at, std::string reason, std::string message) {
  return tl::unexpected(MappingError{line_of(at), std::move(reason), std::move(message)});
}

SigmaValue value_of(const YAML::Node& n) {
  if (n.IsNull()) return SigmaValue::null();
  if (n.Tag() == "!") return SigmaValue::string(n.Scalar());  // quoted
  return plain_scalar_value(n.Scalar());
}

tl::expected<std::string, MappingError> scalar_text(const YAML::Node& n, const char* what) {
  if (!n.IsScalar() || n.Scalar().empty()) return fail(n, "bad_mapping", std::string(what) + " must be a non-empty string");
  return n.Scalar();
}

// `named`: n is an item of `variants` (else the entry itself, holding one unnamed variant).
// Conditions use Sigma selection syntax: a map of `field|modifiers: value or [values]`, all
// AND'ed, list values OR'ed.
tl::expected<LogsourceVariant, MappingError> parse_variant(const YAML::Node& n,
                                                           const std::string& entry_name,
                                                           bool named) {
  static const std::set<std::string> kKeys = {"name", "conditions", "renames"};
  if (!n.IsMap()) return fail(n, "bad_mapping", "a variant must be a map with conditions and renames");
  LogsourceVariant v;
  v.name = entry_name;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (named && !kKeys.count(key))  // an entry's own keys were checked by the caller
      return fail(kv.first, "unknown_key", "unknown key '" + key + "' in a variant of '" + entry_name +
                                               "' (expected name, conditions, renames)");
  }
  if (const YAML::Node name = n["name"]; name && named) {
    auto t = scalar_text(name, "a variant name");
    if (!t) return tl::unexpected(t.error());
    v.name += "/" + *t;
  }
  PredicateTable table;
  std::vector<CondNode> items;
  if (const YAML::Node cond = n["conditions"]; cond && !cond.IsNull()) {
    if (!cond.IsMap()) return fail(cond, "bad_mapping", "'conditions' must be a map of field: value");
    for (const auto& kv : cond) {
      const std::string key = kv.first.Scalar();
      std::vector<SigmaValue> values;
      if (kv.second.IsSequence()) {
        for (const YAML::Node& item : kv.second) {
          if (!(item.IsScalar() || item.IsNull()))
            return fail(item, "bad_condition", "values of '" + key + "' must be plain values");
          values.push_back(value_of(item));
        }
      } else if (kv.second.IsScalar() || kv.second.IsNull()) {
        values.push_back(value_of(kv.second));
      } else {
        return fail(kv.second, "bad_condition", "value of '" + key + "' must be a value or a list");
      }
      auto node = build_detection_item(key, values, table);
      if (!node) return fail(kv.first, "bad_condition", "'" + key + "': " + node.error().message);
      items.push_back(std::move(*node));
    }
  }
  if (items.empty()) {
    v.condition = make_const_node(true);
  } else {
    CondNode root;
    root.kind = CondNode::Kind::kAnd;
    root.children = std::move(items);
    v.condition = simplify(std::move(root));
  }
  v.conditions = table.release();
  if (const YAML::Node renames = n["renames"]; renames && !renames.IsNull()) {
    if (!renames.IsMap()) return fail(renames, "bad_mapping", "'renames' must be a map of sigma_field: event_field");
    for (const auto& kv : renames) {
      auto from = scalar_text(kv.first, "a renamed field");
      if (!from) return tl::unexpected(from.error());
      auto to = scalar_text(kv.second, "a rename target");
      if (!to) return tl::unexpected(to.error());
      if (!v.renames.emplace(*from, *to).second)
        return fail(kv.first, "bad_mapping", "field '" + *from + "' renamed twice");
    }
  }
  return v;
}

}  // namespace

Result<LogsourceMap> LogsourceMap::parse(std::string_view yaml_text, const std::string& origin) {
  auto error = [&](const MappingError& e) {
    return Error(Status::InvalidArgument(origin + ":" + std::to_string(e.line) + ": " + e.reason +
                                         ": " + e.message));
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() || e.mark.line < 0 ? 0 : e.mark.line + 1;
    return error(MappingError{line, "yaml_syntax", e.msg});
  }
  try {
    if (!root.IsMap()) return error(MappingError{1, "bad_mapping", "the mapping must be a map with 'entries'"});
    for (const auto& kv : root) {
      if (kv.first.Scalar() != "entries")
        return error(MappingError{line_of(kv.first), "unknown_key",
                                  "unknown top-level key '" + kv.first.Scalar() + "' (expected entries)"});
    }
    const YAML::Node entries = root["entries"];
    if (!entries || !entries.IsSequence())
      return error(MappingError{line_of(root), "bad_mapping", "'entries' must be a list"});

    static const std::set<std::string> kKeys = {"name", "product", "category", "service",
                                                "variants", "conditions", "renames"};
    LogsourceMap map;
    std::set<std::string> names;
    std::set<std::tuple<std::string, std::string, std::string>> selectors;
    for (const YAML::Node& en : entries) {
      if (!en.IsMap()) return error(MappingError{line_of(en), "bad_mapping", "an entry must be a map"});
      for (const auto& kv : en) {
        const std::string key = kv.first.Scalar();
        if (!kKeys.count(key))
          return error(MappingError{line_of(kv.first), "unknown_key",
                                    "unknown key '" + key +
                                        "' in an entry (expected name, product, category, service, "
                                        "variants, conditions, renames)"});
      }
      Entry e;
      const YAML::Node name = en["name"];
      if (!name) return error(MappingError{line_of(en), "bad_mapping", "an entry needs a name"});
      auto name_text = scalar_text(name, "an entry name");
      if (!name_text) return error(name_text.error());
      e.name = *name_text;
      if (!names.insert(e.name).second)
        return error(MappingError{line_of(name), "duplicate_entry", "entry name '" + e.name + "' is used twice"});
      for (auto [key, field] : {std::pair<const char*, std::string*>{"product", &e.product},
                                {"category", &e.category},
                                {"service", &e.service}}) {
        if (const YAML::Node v = en[key]; v) {
          auto t = scalar_text(v, key);
          if (!t) return error(t.error());
          *field = ascii_lower(*t);
        }
      }
      if (e.product.empty() && e.category.empty() && e.service.empty())
        return error(MappingError{line_of(en), "bad_mapping",
                                  "entry '" + e.name + "' sets none of product, category, service"});
      if (!selectors.emplace(e.product, e.category, e.service).second)
        return error(MappingError{line_of(en), "duplicate_entry",
                                  "entry '" + e.name +
                                      "' selects the same product/category/service as an earlier "
                                      "entry: put both as variants of one entry"});
      const YAML::Node variants = en["variants"];
      if (variants) {
        if (en["conditions"] || en["renames"])
          return error(MappingError{line_of(en), "bad_mapping",
                                    "entry '" + e.name + "' has both 'variants' and conditions/renames"});
        if (!variants.IsSequence() || variants.size() == 0)
          return error(MappingError{line_of(variants), "bad_mapping", "'variants' must be a non-empty list"});
        std::set<std::string> variant_names;
        for (const YAML::Node& vn : variants) {
          auto v = parse_variant(vn, e.name, true);
          if (!v) return error(v.error());
          if (!variant_names.insert(v->name).second)
            return error(MappingError{line_of(vn), "duplicate_entry", "variant name '" + v->name + "' is used twice"});
          e.variants.push_back(std::move(*v));
        }
      } else {
        auto v = parse_variant(en, e.name, false);
        if (!v) return error(v.error());
        e.variants.push_back(std::move(*v));
      }
      map.entries_.push_back(std::move(e));
    }
    return map;
  } catch (const YAML::Exception& e) {
    int line = e.mark.is_null() || e.mark.line < 0 ? 0 : e.mark.line + 1;
    return error(MappingError{line, "bad_mapping", e.msg});
  } catch (const std::exception& e) {
    return error(MappingError{0, "bad_mapping", e.what()});
  }
}

Result<LogsourceMap> LogsourceMap::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Status::IoError(path + ": cannot open the logsource mapping"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Error(Status::IoError(path + ": read error"));
  return parse(buf.str(), path);
}

const LogsourceMap& LogsourceMap::builtin() {
  static const LogsourceMap* const kMap = [] {
    Result<LogsourceMap> m = parse(kBuiltinLogsourceMapping, kBuiltinOrigin);
    if (!m) {
      // Our own file, covered by tests: a failure here is a build defect, not a user error.
      std::fprintf(stderr, "vigil: the built-in logsource mapping does not parse: %s\n",
                   m.error().to_string().c_str());
      std::abort();
    }
    return new LogsourceMap(std::move(*m));
  }();
  return *kMap;
}

std::vector<LogsourceVariant> LogsourceMap::variants_for(std::string_view product,
                                                         std::string_view category,
                                                         std::string_view service,
                                                         bool* mapped) const {
  std::vector<LogsourceVariant> out;
  int best = -1;
  for (const Entry& e : entries_) {
    if (!e.product.empty() && !ascii_iequals(e.product, product)) continue;
    if (!e.category.empty() && !ascii_iequals(e.category, category)) continue;
    if (!e.service.empty() && !ascii_iequals(e.service, service)) continue;
    int specificity = !e.product.empty() + !e.category.empty() + !e.service.empty();
    if (specificity > best) {
      best = specificity;
      out.clear();
    }
    if (specificity == best) out.insert(out.end(), e.variants.begin(), e.variants.end());
  }
  if (mapped != nullptr) *mapped = best >= 0;
  if (best < 0) {
    LogsourceVariant any;
    any.name = "unmapped";
    any.condition = make_const_node(true);
    out.push_back(std::move(any));
  }
  return out;
}

}  // namespace vigil::rules
