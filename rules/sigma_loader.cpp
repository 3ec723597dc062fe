// Sigma loader. YAML parsing (yaml-cpp, which throws) happens here and only here: every
// exception is caught and becomes a LoadError with the file and line. Detection values and
// modifiers are rules/value_modifiers.cpp, conditions rules/condition_parser.cpp.
#include "rules/sigma_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <exception>
#include <filesystem>
#include <set>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "rules/attack_mapping.h"
#include "rules/condition_parser.h"
#include "rules/parsed_rule_cache.h"
#include "rules/value_modifiers.h"
#include "core/ascii.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;

// ---- Splitting a file into YAML documents ----
//
// Each document is parsed on its own so that one broken document neither hides the others nor
// loses their line numbers (yaml-cpp's LoadAll stops at the first error).

struct Chunk {
  std::string text;
  int first_line = 0;  // 0-based line of the chunk's first line in the file
};

bool is_document_marker(std::string_view line) {
  if (line.size() < 3 || line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '\n';
}

// True if the chunk holds nothing but blank lines, comments and directives.
bool is_preamble(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::size_t i = line.find_first_not_of(" \t\r");
    if (i != std::string_view::npos && line[i] != '#' && line[i] != '%') return false;
    pos = end + 1;
  }
  return true;
}

std::vector<Chunk> split_documents(std::string_view text) {
  std::vector<Chunk> chunks;
  Chunk current;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (is_document_marker(line) && !current.text.empty()) {
      if (is_preamble(current.text)) {
        current.text.append(line);  // directives and comments belong to the next document
      } else {
        chunks.push_back(std::move(current));
        current = Chunk{std::string(line), line_no};
      }
    } else {
      current.text.append(line);
    }
    ++line_no;
    pos = next;
  }
  if (!current.text.empty() && !is_preamble(current.text)) chunks.push_back(std::move(current));
  return chunks;
}

// ---- YAML helpers ----

int line_of(const YAML::Node& n, int chunk_line, int fallback) {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0) return fallback;
  return chunk_line + m.line + 1;
}


// Text of a metadata value: a scalar as is, a list of scalars joined with ", ".
std::string text_of(const YAML::Node& n) {
  if (!n || n.IsNull()) return "";
  if (n.IsScalar()) return n.Scalar();
  if (n.IsSequence()) {
    std::string out;
    for (const YAML::Node& item : n) {
      if (!out.empty()) out += ", ";
      out += text_of(item);
    }
    return out;
  }
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

std::vector<std::string> list_of(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsSequence()) {
    for (const YAML::Node& item : n) out.push_back(text_of(item));
  } else {
    out.push_back(text_of(n));
  }
  return out;
}

SigmaValue value_of(const YAML::Node& n) {
  if (n.IsNull()) return SigmaValue::null();
  const std::string& s = n.Scalar();
  const std::string& tag = n.Tag();
  auto tag_is = [&](const char* t) {
    return tag.size() >= std::strlen(t) && tag.compare(tag.size() - std::strlen(t), std::string::npos, t) == 0;
  };
  if (tag == "!" || tag_is(":str")) return SigmaValue::string(s);  // quoted or block scalar
  if (tag_is(":null")) return SigmaValue::null();
  return plain_scalar_value(s);
}

// ---- Detection ----

struct Failure {
  std::string reason, message;
  int line = 0;
};

class DetectionBuilder {
 public:
  DetectionBuilder(int chunk_line, int doc_line) : chunk_line_(chunk_line), doc_line_(doc_line) {}

  tl::expected<CondNode, Failure> search(const YAML::Node& n, const std::string& name) {
    if (n.IsMap()) return selection_map(n, name);
    if (n.IsSequence()) {
      if (n.size() == 0) return fail("bad_detection", "search identifier '" + name + "' is an empty list", n);
      bool all_scalars = true;
      for (const YAML::Node& item : n)
        if (!(item.IsScalar() || item.IsNull())) all_scalars = false;
      if (all_scalars) return item("", n, n);
      std::vector<CondNode> alternatives;
      for (const YAML::Node& element : n) {
        auto r = (element.IsScalar() || element.IsNull()) ? item("", element, element)
                                                          : search(element, name);
        if (!r) return r;
        alternatives.push_back(std::move(*r));
      }
      return link(CondNode::Kind::kOr, std::move(alternatives));
    }
    if (n.IsScalar() || n.IsNull()) return item("", n, n);
    return fail("bad_detection", "search identifier '" + name + "' is not a map, list or value", n);
  }

  PredicateTable& table() { return table_; }

  tl::expected<CondNode, Failure> fail(std::string reason, std::string message, const YAML::Node& at) {
    return tl::unexpected(Failure{std::move(reason), std::move(message), line_of(at, chunk_line_, doc_line_)});
  }

 private:
  static CondNode link(CondNode::Kind kind, std::vector<CondNode> kids) {
    if (kids.size() == 1) return std::move(kids[0]);
    CondNode n;
    n.kind = kind;
    n.children = std::move(kids);
    return n;
  }

  tl::expected<CondNode, Failure> selection_map(const YAML::Node& n, const std::string& name) {
    if (n.size() == 0) return fail("bad_detection", "search identifier '" + name + "' is an empty map", n);
    std::vector<CondNode> items;
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) return fail("bad_detection", "a selection key must be a string", kv.first);
      const std::string& key = kv.first.Scalar();
      if (!seen.insert(key).second)
        return fail("duplicate_key", "key '" + key + "' appears twice in '" + name + "'", kv.first);
      auto r = item(key, kv.second, kv.first);
      if (!r) return r;
      items.push_back(std::move(*r));
    }
    return link(CondNode::Kind::kAnd, std::move(items));
  }

  tl::expected<CondNode, Failure> item(const std::string& key, const YAML::Node& value,
                                       const YAML::Node& at) {
    std::vector<SigmaValue> values;
    if (value.IsSequence()) {
      for (const YAML::Node& v : value) {
        if (!(v.IsScalar() || v.IsNull()))
          return fail("bad_value", "values of '" + key + "' must be plain values, not maps or lists", v);
        values.push_back(value_of(v));
      }
    } else if (value.IsScalar() || value.IsNull()) {
      values.push_back(value_of(value));
    } else {
      return fail("bad_value", "value of '" + key + "' is a map; Sigma values are plain values or lists", value);
    }
    auto r = build_detection_item(key, values, table_);
    if (!r) return fail(r.error().reason, r.error().message, at);
    return std::move(*r);
  }

  int chunk_line_, doc_line_;
  PredicateTable table_;
};

void renumber(CondNode& node, const std::vector<Predicate>& in, std::vector<Predicate>& out,
              std::vector<std::int64_t>& remap) {
  if (node.kind == CondNode::Kind::kPred) {
    if (remap[node.pred] < 0) {
      remap[node.pred] = static_cast<std::int64_t>(out.size());
      out.push_back(in[node.pred]);
    }
    node.pred = static_cast<std::uint32_t>(remap[node.pred]);
    return;
  }
  for (CondNode& c : node.children) renumber(c, in, out, remap);
}

// Keeps only the predicates the final condition uses, numbered in order of first use.
void compact(SigmaRule& rule, std::vector<Predicate> predicates) {
  std::vector<std::int64_t> remap(predicates.size(), -1);
  rule.predicates.clear();
  renumber(rule.condition, predicates, rule.predicates, remap);
}

// ---- Documents ----

YAML::Node merge_nodes(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const std::string key = kv.first.Scalar();
    const YAML::Node existing = static_cast<const YAML::Node&>(out)[key];
    YAML::Node value = existing && existing.IsMap() && kv.second.IsMap()
                           ? merge_nodes(existing, kv.second)
                           : YAML::Clone(kv.second);
    out[key] = value;
  }
  return out;
}

// yaml-cpp's Node::operator= rewrites the node it refers to (shared with other handles), so
// documents are held in optionals and replaced with emplace(), never assigned.
struct FileState {
  std::optional<YAML::Node> global;  // Sigma v1 `action: global` document, merged into the following ones
  std::optional<YAML::Node> previous;
};

class DocumentLoader {
 public:
  DocumentLoader(const std::string& path, LoadReport& report) : path_(path), report_(report) {}

  void document(const YAML::Node& doc, int chunk_line) {
    doc_line_ = line_of(doc, chunk_line, chunk_line + 1);
    chunk_line_ = chunk_line;
    if (doc.IsNull()) return;  // an empty document (`---` followed by nothing)
    if (!doc.IsMap()) {
      error("", "not_a_rule", "the document is not a map");
      return;
    }
    std::optional<YAML::Node> effective;
    const YAML::Node action = doc["action"];
    if (action && action.IsScalar()) {
      const std::string a = action.Scalar();
      if (a == "global") {
        YAML::Node g = state_.global ? merge_nodes(*state_.global, doc) : YAML::Clone(doc);
        g.remove("action");
        state_.global.emplace(g);
        return;
      }
      if (a == "reset") {
        state_.global.reset();
        return;
      }
      if (a != "repeat") {
        error(id_of(doc), "bad_collection", "unknown action '" + a + "'");
        return;
      }
      if (!state_.previous) {
        error(id_of(doc), "bad_collection", "'action: repeat' with no previous document");
        return;
      }
      YAML::Node merged = merge_nodes(*state_.previous, doc);
      merged.remove("action");
      effective.emplace(merged);
    } else if (state_.global) {
      effective.emplace(merge_nodes(*state_.global, doc));
    } else {
      effective.emplace(doc);
    }
    state_.previous.emplace(*effective);
    rule(*effective);
  }

  void yaml_error(const YAML::Exception& e, int chunk_line) {
    ++report_.documents_seen;
    int line = e.mark.is_null() || e.mark.line < 0 ? chunk_line + 1 : chunk_line + e.mark.line + 1;
    std::string msg = e.msg;
    if (!e.mark.is_null() && e.mark.column >= 0) msg += " (column " + std::to_string(e.mark.column + 1) + ")";
    report_.errors.push_back(LoadError{path_, line, "", "yaml_syntax", msg});
  }

 private:
  static std::string id_of(const YAML::Node& doc) {
    const YAML::Node id = doc["id"];
    return id && id.IsScalar() ? id.Scalar() : "";
  }

  void error(const std::string& id, std::string reason, std::string message, int line = 0) {
    if (reason != "not_a_rule") ++report_.documents_seen;
    report_.errors.push_back(
        LoadError{path_, line > 0 ? line : doc_line_, id, std::move(reason), std::move(message)});
  }

  void rule(const YAML::Node& doc) {
    const std::string id = id_of(doc);
    if (doc["correlation"]) {
      CorrelationRule c;
      LoadError e;
      ++report_.documents_seen;
      if (parse_correlation_document(doc, path_, doc_line_, &c, &e)) report_.correlations.push_back(std::move(c));
      else report_.errors.push_back(std::move(e));
      return;
    }
    if (doc["filter"]) {
      error(id, "filter_rule", "Sigma filter (meta-filter) document: applied to rules, not loaded as one");
      return;
    }
    const YAML::Node detection = doc["detection"];
    const YAML::Node logsource = doc["logsource"];
    if (!detection && !logsource) {
      error(id, "not_a_rule", "no 'detection' and no 'logsource': not a Sigma rule");
      return;
    }
    if (!detection || detection.IsNull()) {
      error(id, "missing_detection", "the rule has no 'detection'");
      return;
    }
    if (!logsource || !logsource.IsMap()) {
      error(id, "missing_logsource", "the rule has no 'logsource' map");
      return;
    }
    if (!detection.IsMap()) {
      error(id, "bad_detection", "'detection' is not a map", line_of(detection, chunk_line_, doc_line_));
      return;
    }

    SigmaRule r;
    r.id = id;
    r.title = text_of(doc["title"]);
    r.status = text_of(doc["status"]);
    r.description = text_of(doc["description"]);
    r.author = text_of(doc["author"]);
    r.date = text_of(doc["date"]);
    r.modified = text_of(doc["modified"]);
    r.name = text_of(doc["name"]);
    r.level = ascii_lower(text_of(doc["level"]));
    r.tags = list_of(doc["tags"]);
    r.references = list_of(doc["references"]);
    r.falsepositives = list_of(doc["falsepositives"]);
    r.fields = list_of(doc["fields"]);
    r.product = text_of(logsource["product"]);
    r.category = text_of(logsource["category"]);
    r.service = text_of(logsource["service"]);
    r.path = path_;
    r.line = doc_line_;
    if (const YAML::Node vigil = doc["vigil"]; vigil) r.vigil_extension = YAML::Dump(vigil);

    DetectionBuilder builder(chunk_line_, doc_line_);
    std::vector<SearchIdentifier> searches;
    YAML::Node condition;
    std::set<std::string> seen;
    for (const auto& kv : detection) {
      const std::string name = kv.first.Scalar();
      if (!seen.insert(name).second) {
        error(id, "duplicate_key", "'" + name + "' appears twice in 'detection'",
              line_of(kv.first, chunk_line_, doc_line_));
        return;
      }
      if (name == "condition") {
        condition = kv.second;
        continue;
      }
      if (name == "timeframe") continue;  // Sigma v1 aggregation window: no meaning here
      auto node = builder.search(kv.second, name);
      if (!node) {
        error(id, node.error().reason, "'" + name + "': " + node.error().message, node.error().line);
        return;
      }
      searches.push_back(SearchIdentifier{name, std::move(*node)});
    }
    if (!condition || condition.IsNull()) {
      error(id, "missing_condition", "'detection' has no 'condition'",
            line_of(detection, chunk_line_, doc_line_));
      return;
    }
    std::vector<std::string> expressions;
    if (condition.IsScalar()) {
      expressions.push_back(condition.Scalar());
    } else if (condition.IsSequence() && condition.size() > 0) {
      for (const YAML::Node& c : condition) {
        if (!c.IsScalar()) {
          error(id, "bad_condition", "a condition list holds a non-string item",
                line_of(c, chunk_line_, doc_line_));
          return;
        }
        expressions.push_back(c.Scalar());
      }
    } else {
      error(id, "bad_condition", "'condition' must be a string or a list of strings",
            line_of(condition, chunk_line_, doc_line_));
      return;
    }
    CondNode root;
    root.kind = CondNode::Kind::kOr;
    for (const std::string& text : expressions) {
      auto parsed = parse_condition(text, searches);
      if (!parsed) {
        error(id, parsed.error().reason, "condition '" + text + "': " + parsed.error().message,
              line_of(condition, chunk_line_, doc_line_));
        return;
      }
      root.children.push_back(std::move(*parsed));
    }
    r.condition = simplify(std::move(root));
    compact(r, builder.table().release());
    apply_attack_mapping(r);
    ++report_.documents_seen;
    report_.rules.push_back(std::move(r));
  }

  const std::string& path_;
  LoadReport& report_;
  FileState state_;
  int doc_line_ = 1;
  int chunk_line_ = 0;
};

bool has_rule_extension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yml" || ext == ".yaml";
}

}  // namespace

void load_rule_text(std::string_view yaml_text, const std::string& path, LoadReport& report) {
  if (yaml_text.size() >= 3 && yaml_text.substr(0, 3) == "\xEF\xBB\xBF") yaml_text.remove_prefix(3);
  DocumentLoader loader(path, report);
  for (const Chunk& chunk : split_documents(yaml_text)) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(chunk.text);
    } catch (const YAML::Exception& e) {
      loader.yaml_error(e, chunk.first_line);
      continue;
    } catch (const std::exception& e) {
      report.errors.push_back(LoadError{path, chunk.first_line + 1, "", "yaml_syntax", e.what()});
      continue;
    }
    for (const YAML::Node& doc : docs) {
      try {
        loader.document(doc, chunk.first_line);
      } catch (const YAML::Exception& e) {
        loader.yaml_error(e, chunk.first_line);
      } catch (const std::exception& e) {
        ++report.documents_seen;
        report.errors.push_back(LoadError{path, chunk.first_line + 1, "", "internal_error", e.what()});
      }
    }
  }
}

namespace {

// Reads `path` into `out` (reused across files: thousands of rule files are read per load).
// Returns null, or why it could not.
const char* read_whole_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open the file";
  out.clear();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return "read error";
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return nullptr;
}

}  // namespace

LoadReport load_rule_paths(const std::vector<std::string>& paths, ParsedRuleCache* cache) {
  LoadReport report;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      report.errors.push_back(LoadError{p, 0, "", "io_error", "no such file or directory"});
      continue;
    }
    if (fs::is_directory(st)) {
      fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
      if (ec) {
        report.errors.push_back(LoadError{p, 0, "", "io_error", "cannot list directory: " + ec.message()});
        continue;
      }
      for (; it != end; it.increment(ec)) {
        if (ec) {
          report.errors.push_back(LoadError{p, 0, "", "io_error", "cannot list directory: " + ec.message()});
          break;
        }
        std::error_code fec;
        if (it->is_regular_file(fec) && has_rule_extension(it->path())) files.push_back(it->path().string());
      }
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  std::string text;
  for (const std::string& f : files) {
    struct stat st {};
    const bool have_stat = cache && ::stat(f.c_str(), &st) == 0;
    if (have_stat && cache->load_unchanged(f, st, report)) {
      ++report.files_read;
      continue;
    }
    if (const char* why = read_whole_file(f, text)) {
      report.errors.push_back(LoadError{f, 0, "", "io_error", why});
      continue;
    }
    ++report.files_read;
    if (cache) cache->load(f, text, report, have_stat ? &st : nullptr);
    else load_rule_text(text, f, report);
  }
  return report;
}

}  // namespace vigil::rules
