#include "rules/condition_parser.h"

#include <cctype>
#include <cstdlib>

namespace vigil::rules {
namespace {

struct Token {
  enum class Kind : std::uint8_t { kWord, kOpen, kClose, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;
  std::size_t offset = 0;
};

bool is_word_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-' || c == '*' || c == '.' || u >= 0x80;
}

DetectionError bad(std::string message) { return DetectionError{"bad_condition", std::move(message)}; }

DetectionResult<std::vector<Token>> tokenize(std::string_view text) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (c == '(' || c == ')') {
      out.push_back(Token{c == '(' ? Token::Kind::kOpen : Token::Kind::kClose, std::string(1, c), i});
      ++i;
    } else if (c == '|') {
      return tl::unexpected(DetectionError{
          "unsupported_condition",
          "Sigma v1 aggregation after '|' (" + std::string(text.substr(i)) +
              "): use a Sigma correlation rule instead"});
    } else if (is_word_char(c)) {
      std::size_t start = i;
      while (i < text.size() && is_word_char(text[i])) ++i;
      out.push_back(Token{Token::Kind::kWord, std::string(text.substr(start, i - start)), start});
    } else {
      return tl::unexpected(bad("unexpected character '" + std::string(1, c) + "' at offset " +
                                std::to_string(i)));
    }
  }
  out.push_back(Token{Token::Kind::kEnd, "", text.size()});
  return out;
}

bool is_keyword(const std::string& w) {
  return w == "and" || w == "or" || w == "not" || w == "of" || w == "them" || w == "near";
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens, const std::vector<std::string>& identifiers)
      : text_(text), tokens_(std::move(tokens)), identifiers_(identifiers) {}

  DetectionResult<ConditionSyntax> parse() {
    auto n = parse_or();
    if (!n) return n;
    if (peek().kind != Token::Kind::kEnd)
      return tl::unexpected(bad("unexpected '" + peek().text + "' at offset " +
                                std::to_string(peek().offset)));
    return n;
  }

 private:
  using Kind = ConditionSyntax::Kind;
  // Parentheses and `not`s nest at most this deep. The parser (and every later walk of the
  // tree: simplify, analysis, evaluation) recurses once per level, so a hostile condition of a
  // few thousand '(' would overflow the stack; real conditions nest a handful of levels.
  static constexpr int kMaxNesting = 64;
  struct NestingGuard {
    explicit NestingGuard(int& depth) : depth_(depth) { ++depth_; }
    ~NestingGuard() { --depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    int& depth_;
  };
  DetectionError too_deep() const {
    return bad("parentheses and 'not' nest deeper than " + std::to_string(kMaxNesting) +
               " levels at offset " + std::to_string(peek().offset));
  }

  const Token& peek(std::size_t ahead = 0) const {
    std::size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  bool peek_word(const char* w, std::size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::kWord && peek(ahead).text == w;
  }
  // The text from `begin` to the end of the last token consumed.
  std::string written_from(std::size_t begin) const {
    const Token& last = tokens_[pos_ - 1];
    return std::string(text_.substr(begin, last.offset + last.text.size() - begin));
  }

  DetectionResult<ConditionSyntax> parse_or() {
    return parse_binary("or", Kind::kOr, [this] { return parse_and(); });
  }
  DetectionResult<ConditionSyntax> parse_and() {
    return parse_binary("and", Kind::kAnd, [this] { return parse_not(); });
  }

  template <typename Next>
  DetectionResult<ConditionSyntax> parse_binary(const char* op, Kind kind, Next next) {
    const std::size_t begin = peek().offset;
    auto first = next();
    if (!first) return first;
    if (!peek_word(op)) return first;
    ConditionSyntax n;
    n.kind = kind;
    n.children.push_back(std::move(*first));
    while (peek_word(op)) {
      ++pos_;
      auto operand = next();
      if (!operand) return operand;
      n.children.push_back(std::move(*operand));
    }
    n.text = written_from(begin);
    return n;
  }

  DetectionResult<ConditionSyntax> parse_not() {
    if (peek_word("not")) {
      const std::size_t begin = peek().offset;
      ++pos_;
      NestingGuard guard(depth_);
      if (depth_ > kMaxNesting) return tl::unexpected(too_deep());
      auto inner = parse_not();
      if (!inner) return inner;
      ConditionSyntax n;
      n.kind = Kind::kNot;
      n.children.push_back(std::move(*inner));
      n.text = written_from(begin);
      return n;
    }
    return parse_primary();
  }

  DetectionResult<ConditionSyntax> parse_primary() {
    const Token& t = peek();
    if (t.kind == Token::Kind::kOpen) {
      const std::size_t begin = t.offset;
      ++pos_;
      NestingGuard guard(depth_);
      if (depth_ > kMaxNesting) return tl::unexpected(too_deep());
      auto inner = parse_or();
      if (!inner) return inner;
      if (peek().kind != Token::Kind::kClose)
        return tl::unexpected(bad("missing ')' at offset " + std::to_string(peek().offset)));
      ++pos_;
      inner->text = written_from(begin);
      return inner;
    }
    if (t.kind == Token::Kind::kEnd)
      return tl::unexpected(bad("expression ends where an operand was expected"));
    if (t.kind == Token::Kind::kClose)
      return tl::unexpected(bad("unexpected ')' at offset " + std::to_string(t.offset)));
    if (peek_word("of", 1)) return parse_selector();
    if (t.text == "near")
      return tl::unexpected(DetectionError{"unsupported_condition",
                                           "Sigma v1 'near' is not supported: use a correlation rule"});
    if (is_keyword(t.text))
      return tl::unexpected(bad("unexpected '" + t.text + "' at offset " + std::to_string(t.offset)));
    ++pos_;
    for (const std::string& name : identifiers_)
      if (name == t.text) {
        ConditionSyntax n;
        n.kind = Kind::kIdentifier;
        n.name = n.text = t.text;
        return n;
      }
    return tl::unexpected(bad("unknown search identifier '" + t.text + "'"));
  }

  DetectionResult<ConditionSyntax> parse_selector() {
    const Token quant = peek();
    pos_ += 2;  // quantifier, 'of'
    ConditionSyntax n;
    if (quant.text == "1" || quant.text == "any") {
      n.kind = Kind::kOneOf;
    } else if (quant.text == "all") {
      n.kind = Kind::kAllOf;
    } else {
      return tl::unexpected(bad("quantifier '" + quant.text + "' before 'of': Sigma allows 1, any or all"));
    }
    const Token target = peek();
    if (target.kind != Token::Kind::kWord || (is_keyword(target.text) && target.text != "them"))
      return tl::unexpected(bad("'" + quant.text + " of' needs 'them' or an identifier pattern"));
    ++pos_;
    const bool them = target.text == "them";
    const bool underscore_pattern = !them && !target.text.empty() && target.text[0] == '_';
    for (const std::string& name : identifiers_) {
      if (!name.empty() && name[0] == '_' && !underscore_pattern) continue;
      if (them || identifier_pattern_matches(target.text, name)) n.selected.push_back(name);
    }
    if (n.selected.empty())
      return tl::unexpected(bad("'" + quant.text + " of " + target.text +
                                "' selects no search identifier"));
    n.name = target.text;
    n.text = written_from(quant.offset);
    return n;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  const std::vector<std::string>& identifiers_;
  int depth_ = 0;  // parentheses and `not`s open at the current token
  std::size_t pos_ = 0;
};

const CondNode& search_tree(const std::vector<SearchIdentifier>& searches, const std::string& name) {
  for (const SearchIdentifier& s : searches)
    if (s.name == name) return s.node;
  // parse_condition_syntax accepts only names of `searches`.
  std::abort();
}

// The syntax tree with every identifier replaced by its search's tree.
CondNode lower(const ConditionSyntax& syntax, const std::vector<SearchIdentifier>& searches) {
  using K = ConditionSyntax::Kind;
  CondNode n;
  switch (syntax.kind) {
    case K::kIdentifier:
      return search_tree(searches, syntax.name);
    case K::kOneOf:
    case K::kAllOf:
      n.kind = syntax.kind == K::kOneOf ? CondNode::Kind::kOr : CondNode::Kind::kAnd;
      for (const std::string& name : syntax.selected) n.children.push_back(search_tree(searches, name));
      return n;
    case K::kAnd:
    case K::kOr:
    case K::kNot:
      n.kind = syntax.kind == K::kAnd ? CondNode::Kind::kAnd
               : syntax.kind == K::kOr ? CondNode::Kind::kOr
                                       : CondNode::Kind::kNot;
      for (const ConditionSyntax& c : syntax.children) n.children.push_back(lower(c, searches));
      return n;
  }
  return n;
}

}  // namespace

bool identifier_pattern_matches(std::string_view pattern, std::string_view name) {
  // Iterative glob with backtracking to the last `*`.
  std::size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

DetectionResult<ConditionSyntax> parse_condition_syntax(std::string_view text,
                                                        const std::vector<std::string>& identifiers) {
  auto tokens = tokenize(text);
  if (!tokens) return tl::unexpected(tokens.error());
  if (tokens->size() == 1) return tl::unexpected(bad("empty condition"));
  Parser parser(text, std::move(*tokens), identifiers);
  return parser.parse();
}

DetectionResult<CondNode> parse_condition(std::string_view text,
                                          const std::vector<SearchIdentifier>& searches) {
  std::vector<std::string> names;
  names.reserve(searches.size());
  for (const SearchIdentifier& s : searches) names.push_back(s.name);
  auto syntax = parse_condition_syntax(text, names);
  if (!syntax) return tl::unexpected(syntax.error());
  return lower(*syntax, searches);
}

CondNode simplify(CondNode node) {
  using K = CondNode::Kind;
  switch (node.kind) {
    case K::kPred:
    case K::kTrue:
    case K::kFalse:
      return node;
    case K::kNot: {
      CondNode inner = simplify(std::move(node.children.at(0)));
      if (inner.kind == K::kTrue) return make_const_node(false);
      if (inner.kind == K::kFalse) return make_const_node(true);
      if (inner.kind == K::kNot) return std::move(inner.children[0]);
      node.children.clear();
      node.children.push_back(std::move(inner));
      return node;
    }
    case K::kAnd:
    case K::kOr: {
      const K absorbing = node.kind == K::kAnd ? K::kFalse : K::kTrue;
      const K neutral = node.kind == K::kAnd ? K::kTrue : K::kFalse;
      std::vector<CondNode> kids;
      for (CondNode& c : node.children) {
        CondNode s = simplify(std::move(c));
        if (s.kind == absorbing) return s;
        if (s.kind == neutral) continue;
        if (s.kind == node.kind) {
          for (CondNode& g : s.children) kids.push_back(std::move(g));
        } else {
          kids.push_back(std::move(s));
        }
      }
      if (kids.empty()) return make_const_node(neutral == K::kTrue);
      if (kids.size() == 1) return std::move(kids[0]);
      node.children = std::move(kids);
      return node;
    }
  }
  return node;
}

}  // namespace vigil::rules
