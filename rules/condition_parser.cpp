#include "rules/condition_parser.h"

#include <cctype>

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
  Parser(std::vector<Token> tokens, const std::vector<SearchIdentifier>& searches)
      : tokens_(std::move(tokens)), searches_(searches) {}

  DetectionResult<CondNode> parse() {
    auto n = parse_or();
    if (!n) return n;
    if (peek().kind != Token::Kind::kEnd)
      return tl::unexpected(bad("unexpected '" + peek().text + "' at offset " +
                                std::to_string(peek().offset)));
    return n;
  }

 private:
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

  DetectionResult<CondNode> parse_or() {
    return parse_binary("or", CondNode::Kind::kOr, [this] { return parse_and(); });
  }
  DetectionResult<CondNode> parse_and() {
    return parse_binary("and", CondNode::Kind::kAnd, [this] { return parse_not(); });
  }

  template <typename Next>
  DetectionResult<CondNode> parse_binary(const char* op, CondNode::Kind kind, Next next) {
    auto first = next();
    if (!first) return first;
    if (!peek_word(op)) return first;
    CondNode n;
    n.kind = kind;
    n.children.push_back(std::move(*first));
    while (peek_word(op)) {
      ++pos_;
      auto operand = next();
      if (!operand) return operand;
      n.children.push_back(std::move(*operand));
    }
    return n;
  }

  DetectionResult<CondNode> parse_not() {
    if (peek_word("not")) {
      ++pos_;
      NestingGuard guard(depth_);
      if (depth_ > kMaxNesting) return tl::unexpected(too_deep());
      auto inner = parse_not();
      if (!inner) return inner;
      CondNode n;
      n.kind = CondNode::Kind::kNot;
      n.children.push_back(std::move(*inner));
      return n;
    }
    return parse_primary();
  }

  DetectionResult<CondNode> parse_primary() {
    const Token& t = peek();
    if (t.kind == Token::Kind::kOpen) {
      ++pos_;
      NestingGuard guard(depth_);
      if (depth_ > kMaxNesting) return tl::unexpected(too_deep());
      auto inner = parse_or();
      if (!inner) return inner;
      if (peek().kind != Token::Kind::kClose)
        return tl::unexpected(bad("missing ')' at offset " + std::to_string(peek().offset)));
      ++pos_;
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
    for (const SearchIdentifier& s : searches_)
      if (s.name == t.text) return s.node;
    return tl::unexpected(bad("unknown search identifier '" + t.text + "'"));
  }

  DetectionResult<CondNode> parse_selector() {
    const Token quant = peek();
    pos_ += 2;  // quantifier, 'of'
    CondNode::Kind kind;
    if (quant.text == "1" || quant.text == "any") {
      kind = CondNode::Kind::kOr;
    } else if (quant.text == "all") {
      kind = CondNode::Kind::kAnd;
    } else {
      return tl::unexpected(bad("quantifier '" + quant.text + "' before 'of': Sigma allows 1, any or all"));
    }
    const Token target = peek();
    if (target.kind != Token::Kind::kWord || (is_keyword(target.text) && target.text != "them"))
      return tl::unexpected(bad("'" + quant.text + " of' needs 'them' or an identifier pattern"));
    ++pos_;
    const bool them = target.text == "them";
    const bool underscore_pattern = !them && !target.text.empty() && target.text[0] == '_';
    CondNode n;
    n.kind = kind;
    for (const SearchIdentifier& s : searches_) {
      if (!s.name.empty() && s.name[0] == '_' && !underscore_pattern) continue;
      if (them || identifier_pattern_matches(target.text, s.name)) n.children.push_back(s.node);
    }
    if (n.children.empty())
      return tl::unexpected(bad("'" + quant.text + " of " + target.text +
                                "' selects no search identifier"));
    return n;
  }

  std::vector<Token> tokens_;
  const std::vector<SearchIdentifier>& searches_;
  int depth_ = 0;  // parentheses and `not`s open at the current token
  std::size_t pos_ = 0;
};

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

DetectionResult<CondNode> parse_condition(std::string_view text,
                                          const std::vector<SearchIdentifier>& searches) {
  auto tokens = tokenize(text);
  if (!tokens) return tl::unexpected(tokens.error());
  if (tokens->size() == 1) return tl::unexpected(bad("empty condition"));
  Parser parser(std::move(*tokens), searches);
  return parser.parse();
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
