#include "engine/chat_template/parser.h"

#include <charconv>
#include <initializer_list>
#include <set>

#include "engine/chat_template/lexer.h"

namespace manifold::jinja {

namespace {

using TK = Token::Kind;

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseLimits& limits)
      : tokens_(std::move(tokens)), limits_(limits) {}

  Body parseProgram() {
    Body body = parseBody({}, nullptr);
    if (peek().kind != TK::kEnd) {
      // parseBody stops only at an end tag nobody opened.
      fail("unexpected '" + peek(1).text + "'", peek(1).pos);
    }
    return body;
  }

 private:
  // Guards recursion so a template of ten thousand '(' cannot overflow the stack.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* parser) : parser_(parser) {
      if (++parser_->depth_ > parser_->limits_.max_nesting_depth) {
        parser_->fail("template nested too deeply", parser_->peek().pos);
      }
    }
    ~DepthGuard() { --parser_->depth_; }

   private:
    Parser* parser_;
  };

  // A left-associative chain (a + b + c, x.a.b, v | f | g) nests its tree one level per link, so
  // each link counts as nesting: ten thousand `+` in one expression cannot overflow the stack when
  // the tree is evaluated (Jinja2's compiler refuses such a chain too, with a RecursionError).
  class ChainGuard {
   public:
    explicit ChainGuard(Parser* parser) : parser_(parser) {}
    ~ChainGuard() { parser_->depth_ -= links_; }
    ChainGuard(const ChainGuard&) = delete;
    ChainGuard& operator=(const ChainGuard&) = delete;
    void link() {
      ++links_;
      if (++parser_->depth_ > parser_->limits_.max_nesting_depth) {
        parser_->fail("template nested too deeply (an expression chains too many operators)",
                      parser_->peek().pos);
      }
    }

   private:
    Parser* parser_;
    int links_ = 0;
  };

  [[noreturn]] void fail(const std::string& message, SourcePos pos) const {
    throw TemplateError(TemplateError::Kind::kSyntax, message, pos);
  }

  const Token& peek(size_t ahead = 0) const {
    const size_t index = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[index];
  }
  const Token& next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  bool isOperator(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).kind == TK::kOperator && peek(ahead).text == op;
  }
  bool isName(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == TK::kName && peek(ahead).text == name;
  }
  bool acceptOperator(std::string_view op) {
    if (!isOperator(op)) return false;
    next();
    return true;
  }
  bool acceptName(std::string_view name) {
    if (!isName(name)) return false;
    next();
    return true;
  }
  std::string describe(const Token& token) const {
    switch (token.kind) {
      case TK::kEnd:
        return "end of template";
      case TK::kCloseStatement:
        return "'%}'";
      case TK::kCloseExpression:
        return "'}}'";
      case TK::kOpenStatement:
        return "'{%'";
      case TK::kOpenExpression:
        return "'{{'";
      case TK::kText:
        return "template text";
      case TK::kString:
        return "string literal";
      default:
        return "'" + token.text + "'";
    }
  }
  void expectOperator(std::string_view op) {
    if (!acceptOperator(op)) {
      fail("expected '" + std::string(op) + "', got " + describe(peek()), peek().pos);
    }
  }
  std::string expectName(const char* what) {
    if (peek().kind != TK::kName)
      fail(std::string("expected ") + what + ", got " + describe(peek()), peek().pos);
    return next().text;
  }
  void expectKeyword(std::string_view keyword) {
    if (!acceptName(keyword)) {
      fail("expected '" + std::string(keyword) + "', got " + describe(peek()), peek().pos);
    }
  }
  void expectCloseStatement() {
    if (peek().kind != TK::kCloseStatement) {
      fail("expected '%}', got " + describe(peek()), peek().pos);
    }
    next();
  }

  // Parses statements until `{% <one of stop> ...`, leaving the `{%` unconsumed. `opener` names
  // the block being parsed, for the unclosed-block error.
  Body parseBody(std::initializer_list<std::string_view> stop, const Token* opener) {
    DepthGuard guard(this);
    Body body;
    while (true) {
      const Token& token = peek();
      switch (token.kind) {
        case TK::kEnd:
          if (opener != nullptr) {
            fail("unclosed '" + opener->text + "' block: expected '{% " +
                     std::string(*stop.begin()) + " %}' before the end of the template",
                 opener->pos);
          }
          return body;
        case TK::kText:
          body.push_back(std::make_unique<TextStmt>(token.pos, token.text));
          next();
          break;
        case TK::kComment:
          next();
          break;
        case TK::kOpenExpression: {
          next();
          ExprPtr expr = parseExpression();
          if (peek().kind != TK::kCloseExpression) {
            fail("expected '}}', got " + describe(peek()), peek().pos);
          }
          next();
          body.push_back(std::make_unique<OutputStmt>(token.pos, std::move(expr)));
          break;
        }
        case TK::kOpenStatement: {
          const Token& keyword = peek(1);
          if (keyword.kind != TK::kName) fail("expected a tag name after '{%'", keyword.pos);
          for (const std::string_view name : stop) {
            if (keyword.text == name) return body;
          }
          if (isEndTag(keyword.text)) {
            if (opener == nullptr) fail("unexpected '" + keyword.text + "'", keyword.pos);
            fail("unexpected '" + keyword.text + "' inside '" + opener->text +
                     "' block (expected '" + std::string(*stop.begin()) + "')",
                 keyword.pos);
          }
          body.push_back(parseStatement());
          break;
        }
        default:
          fail("unexpected " + describe(token), token.pos);
      }
    }
  }

  static bool isEndTag(const std::string& name) {
    static const std::set<std::string, std::less<>> kEndTags = {
        "endif", "elif", "else", "endfor", "endset", "endmacro", "endcall", "endfilter"};
    return kEndTags.count(name) > 0;
  }

  // Consumes `{% name`.
  const Token& beginTag() {
    next();  // {%
    return next();
  }
  void endTag(std::string_view name) {
    next();  // {%
    expectKeyword(name);
    expectCloseStatement();
  }

  StmtPtr parseStatement() {
    const Token& open = peek();
    const Token& keyword = beginTag();
    const SourcePos pos = open.pos;
    const std::string& name = keyword.text;
    if (name == "if") return parseIf(keyword, pos);
    if (name == "for") return parseFor(keyword, pos);
    if (name == "set") return parseSet(keyword, pos);
    if (name == "macro") return parseMacro(keyword, pos);
    if (name == "call") return parseCallBlock(keyword, pos);
    if (name == "filter") return parseFilterBlock(keyword, pos);
    if (name == "break" || name == "continue") {
      expectCloseStatement();
      return std::make_unique<ControlStmt>(
          name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, pos);
    }
    fail("unknown tag '" + name + "'", keyword.pos);
  }

  StmtPtr parseIf(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<IfStmt>(pos);
    ExprPtr condition = parseExpression();
    expectCloseStatement();
    Body body = parseBody({"endif", "elif", "else"}, &keyword);
    stmt->branches.emplace_back(std::move(condition), std::move(body));
    while (true) {
      const Token& tag = beginTag();
      if (tag.text == "elif") {
        ExprPtr elif_condition = parseExpression();
        expectCloseStatement();
        Body elif_body = parseBody({"endif", "elif", "else"}, &keyword);
        stmt->branches.emplace_back(std::move(elif_condition), std::move(elif_body));
      } else if (tag.text == "else") {
        expectCloseStatement();
        stmt->else_body = parseBody({"endif"}, &keyword);
        endTag("endif");
        return stmt;
      } else {
        expectCloseStatement();
        return stmt;
      }
    }
  }

  StmtPtr parseFor(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<ForStmt>(pos);
    do {
      stmt->targets.push_back(expectName("a loop variable"));
    } while (acceptOperator(","));
    expectKeyword("in");
    stmt->iterable = parseOr();
    if (acceptName("if")) stmt->condition = parseOr();
    acceptName("recursive");
    expectCloseStatement();
    stmt->body = parseBody({"endfor", "else"}, &keyword);
    const Token& tag = beginTag();
    expectCloseStatement();
    if (tag.text == "else") {
      stmt->else_body = parseBody({"endfor"}, &keyword);
      endTag("endfor");
    }
    return stmt;
  }

  StmtPtr parseSet(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<SetStmt>(pos);
    const std::string first = expectName("a variable name");
    if (acceptOperator(".")) {
      stmt->namespace_object = std::make_unique<NameExpr>(keyword.pos, first);
      stmt->targets.push_back(expectName("an attribute name"));
    } else {
      stmt->targets.push_back(first);
      while (acceptOperator(",")) stmt->targets.push_back(expectName("a variable name"));
    }
    if (acceptOperator("=")) {
      stmt->value = parseTupleOrExpression();
      expectCloseStatement();
      return stmt;
    }
    if (stmt->targets.size() != 1 || stmt->namespace_object) {
      fail("expected '=' in set", peek().pos);
    }
    expectCloseStatement();
    stmt->body = parseBody({"endset"}, &keyword);
    endTag("endset");
    return stmt;
  }

  std::vector<Parameter> parseParameters() {
    std::vector<Parameter> parameters;
    expectOperator("(");
    while (!isOperator(")")) {
      Parameter parameter;
      parameter.name = expectName("a parameter name");
      if (acceptOperator("=")) parameter.default_value = parseExpression();
      parameters.push_back(std::move(parameter));
      if (!acceptOperator(",")) break;
    }
    expectOperator(")");
    return parameters;
  }

  StmtPtr parseMacro(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<MacroStmt>(pos);
    stmt->name = expectName("a macro name");
    stmt->parameters = parseParameters();
    expectCloseStatement();
    stmt->body = parseBody({"endmacro"}, &keyword);
    endTag("endmacro");
    return stmt;
  }

  StmtPtr parseCallBlock(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<CallBlockStmt>(pos);
    if (isOperator("(")) stmt->caller_parameters = parseParameters();
    ExprPtr call = parsePostfix();
    if (call->kind != Expr::Kind::kCall) fail("expected a macro call after 'call'", call->pos);
    stmt->call.reset(static_cast<CallExpr*>(call.release()));
    expectCloseStatement();
    stmt->body = parseBody({"endcall"}, &keyword);
    endTag("endcall");
    return stmt;
  }

  StmtPtr parseFilterBlock(const Token& keyword, SourcePos pos) {
    auto stmt = std::make_unique<FilterBlockStmt>(pos);
    do {
      auto filter = std::make_unique<FilterExpr>(peek().pos);
      filter->name = expectName("a filter name");
      if (isOperator("(")) filter->arguments = parseArguments();
      stmt->filters.push_back(std::move(filter));
    } while (acceptOperator("|"));
    expectCloseStatement();
    stmt->body = parseBody({"endfilter"}, &keyword);
    endTag("endfilter");
    return stmt;
  }

  // `a, b` without brackets is a tuple (in `set` and parentheses).
  ExprPtr parseTupleOrExpression() {
    const SourcePos pos = peek().pos;
    ExprPtr first = parseExpression();
    if (!isOperator(",")) return first;
    auto tuple = std::make_unique<ListExpr>(Expr::Kind::kTuple, pos);
    tuple->items.push_back(std::move(first));
    while (acceptOperator(",")) {
      if (isOperator(")") || peek().kind == TK::kCloseStatement) break;
      tuple->items.push_back(parseExpression());
    }
    return tuple;
  }

  ExprPtr parseExpression() {
    DepthGuard guard(this);
    const SourcePos pos = peek().pos;
    ExprPtr value = parseOr();
    if (!acceptName("if")) return value;
    auto ternary = std::make_unique<TernaryExpr>(pos);
    ternary->then_value = std::move(value);
    ternary->condition = parseOr();
    if (acceptName("else")) ternary->else_value = parseExpression();
    return ternary;
  }

  ExprPtr parseOr() {
    ExprPtr left = parseAnd();
    ChainGuard chain(this);
    while (isName("or")) {
      chain.link();
      const SourcePos pos = next().pos;
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kOr, std::move(left), parseAnd());
    }
    return left;
  }

  ExprPtr parseAnd() {
    ExprPtr left = parseNot();
    ChainGuard chain(this);
    while (isName("and")) {
      chain.link();
      const SourcePos pos = next().pos;
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kAnd, std::move(left), parseNot());
    }
    return left;
  }

  ExprPtr parseNot() {
    if (isName("not")) {
      DepthGuard guard(this);
      const SourcePos pos = next().pos;
      return std::make_unique<UnaryExpr>(pos, UnaryExpr::Op::kNot, parseNot());
    }
    return parseComparison();
  }

  ExprPtr parseComparison() {
    ExprPtr left = parseAdditive();
    ChainGuard chain(this);
    while (true) {
      const SourcePos pos = peek().pos;
      BinaryOp op;
      if (isName("not") && isName("in", 1)) {
        next();
        next();
        op = BinaryOp::kNotIn;
      } else if (acceptName("in")) {
        op = BinaryOp::kIn;
      } else if (acceptOperator("==")) {
        op = BinaryOp::kEqual;
      } else if (acceptOperator("!=")) {
        op = BinaryOp::kNotEqual;
      } else if (acceptOperator("<")) {
        op = BinaryOp::kLess;
      } else if (acceptOperator("<=")) {
        op = BinaryOp::kLessEqual;
      } else if (acceptOperator(">")) {
        op = BinaryOp::kGreater;
      } else if (acceptOperator(">=")) {
        op = BinaryOp::kGreaterEqual;
      } else {
        return left;
      }
      chain.link();
      left = std::make_unique<BinaryExpr>(pos, op, std::move(left), parseAdditive());
    }
  }

  ExprPtr parseAdditive() {
    ExprPtr left = parseMultiplicative();
    ChainGuard chain(this);
    while (true) {
      const SourcePos pos = peek().pos;
      BinaryOp op;
      if (acceptOperator("+")) {
        op = BinaryOp::kAdd;
      } else if (acceptOperator("-")) {
        op = BinaryOp::kSubtract;
      } else if (acceptOperator("~")) {
        op = BinaryOp::kConcat;
      } else {
        return left;
      }
      chain.link();
      left = std::make_unique<BinaryExpr>(pos, op, std::move(left), parseMultiplicative());
    }
  }

  ExprPtr parseMultiplicative() {
    ExprPtr left = parsePower();
    ChainGuard chain(this);
    while (true) {
      const SourcePos pos = peek().pos;
      BinaryOp op;
      if (acceptOperator("*")) {
        op = BinaryOp::kMultiply;
      } else if (acceptOperator("//")) {
        op = BinaryOp::kFloorDivide;
      } else if (acceptOperator("/")) {
        op = BinaryOp::kDivide;
      } else if (acceptOperator("%")) {
        op = BinaryOp::kModulo;
      } else {
        return left;
      }
      chain.link();
      left = std::make_unique<BinaryExpr>(pos, op, std::move(left), parsePower());
    }
  }

  ExprPtr parsePower() {
    ExprPtr left = parseUnary();
    ChainGuard chain(this);
    while (isOperator("**")) {
      chain.link();
      const SourcePos pos = next().pos;
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kPower, std::move(left), parseUnary());
    }
    return left;
  }

  // A sign applies before filters: `-3 | abs` is `(-3) | abs`, as in Jinja2.
  ExprPtr parseUnary() { return parseFiltersAndTests(parseSignedPostfix()); }

  ExprPtr parseSignedPostfix() {
    if (isOperator("-") || isOperator("+")) {
      DepthGuard guard(this);
      const Token& sign = next();
      return std::make_unique<UnaryExpr>(
          sign.pos, sign.text == "-" ? UnaryExpr::Op::kNegate : UnaryExpr::Op::kPlus,
          parseSignedPostfix());
    }
    return parsePostfix();
  }

  bool startsTestArgument() const {
    const Token& token = peek();
    if (token.kind == TK::kName) {
      static const std::set<std::string, std::less<>> kStop = {"else", "or",  "and", "if",
                                                               "in",   "not", "is"};
      return kStop.count(token.text) == 0;
    }
    return token.kind == TK::kString || token.kind == TK::kInteger || token.kind == TK::kFloat ||
           isOperator("[") || isOperator("{") || isOperator("-");
  }

  ExprPtr parseFiltersAndTests(ExprPtr operand) {
    ChainGuard chain(this);
    while (true) {
      if (isOperator("|") || isName("is")) chain.link();
      if (isOperator("|")) {
        const SourcePos pos = next().pos;
        auto filter = std::make_unique<FilterExpr>(pos);
        filter->operand = std::move(operand);
        filter->name = expectName("a filter name");
        if (isOperator("(")) filter->arguments = parseArguments();
        operand = std::move(filter);
      } else if (isName("is")) {
        const SourcePos pos = next().pos;
        auto test = std::make_unique<TestExpr>(pos);
        test->operand = std::move(operand);
        test->negated = acceptName("not");
        test->name = expectName("a test name");
        if (isOperator("(")) {
          test->arguments = parseArguments();
        } else if (startsTestArgument()) {
          Argument argument;
          argument.value = parseUnary();
          test->arguments.push_back(std::move(argument));
        }
        operand = std::move(test);
      } else {
        return operand;
      }
    }
  }

  std::vector<Argument> parseArguments() {
    DepthGuard guard(this);
    std::vector<Argument> arguments;
    expectOperator("(");
    bool seen_keyword = false;
    while (!isOperator(")")) {
      Argument argument;
      if (peek().kind == TK::kName && isOperator("=", 1)) {
        argument.name = next().text;
        next();
        seen_keyword = true;
      } else if (seen_keyword) {
        fail("positional argument follows keyword argument", peek().pos);
      }
      argument.value = parseExpression();
      arguments.push_back(std::move(argument));
      if (!acceptOperator(",")) break;
    }
    expectOperator(")");
    return arguments;
  }

  ExprPtr parsePostfix() {
    ExprPtr object = parsePrimary();
    ChainGuard chain(this);
    while (true) {
      const SourcePos pos = peek().pos;
      if (isOperator(".") || isOperator("[") || isOperator("(")) chain.link();
      if (acceptOperator(".")) {
        const Token& member = next();
        if (member.kind != TK::kName && member.kind != TK::kInteger) {
          fail("expected an attribute name after '.', got " + describe(member), member.pos);
        }
        if (member.kind == TK::kInteger) {
          object = std::make_unique<IndexExpr>(
              pos, std::move(object),
              std::make_unique<LiteralExpr>(member.pos, Value::integer(std::stoll(member.text))));
        } else {
          object = std::make_unique<AttributeExpr>(pos, std::move(object), member.text);
        }
      } else if (isOperator("[")) {
        next();
        object = parseSubscript(pos, std::move(object));
      } else if (isOperator("(")) {
        auto call = std::make_unique<CallExpr>(pos);
        call->callee = std::move(object);
        call->arguments = parseArguments();
        object = std::move(call);
      } else {
        return object;
      }
    }
  }

  ExprPtr parseSubscript(SourcePos pos, ExprPtr object) {
    ExprPtr parts[3];
    int part = 0;
    bool is_slice = false;
    while (true) {
      if (isOperator("]")) break;
      if (isOperator(":")) {
        next();
        is_slice = true;
        if (++part > 2) fail("too many ':' in slice", peek().pos);
        continue;
      }
      if (parts[part]) fail("expected ':' or ']' in subscript", peek().pos);
      parts[part] = parseExpression();
    }
    expectOperator("]");
    if (!is_slice) {
      if (!parts[0]) fail("empty subscript", pos);
      return std::make_unique<IndexExpr>(pos, std::move(object), std::move(parts[0]));
    }
    auto slice = std::make_unique<SliceExpr>(pos);
    slice->object = std::move(object);
    slice->start = std::move(parts[0]);
    slice->stop = std::move(parts[1]);
    slice->step = std::move(parts[2]);
    return slice;
  }

  ExprPtr parsePrimary() {
    DepthGuard guard(this);
    const Token& token = next();
    switch (token.kind) {
      case TK::kString: {
        std::string text = token.text;
        while (peek().kind == TK::kString) text += next().text;  // 'a' 'b' is 'ab'
        return std::make_unique<LiteralExpr>(token.pos, Value::string(std::move(text)));
      }
      case TK::kInteger: {
        int64_t value = 0;
        const auto result =
            std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (result.ec != std::errc()) fail("integer literal out of range", token.pos);
        return std::make_unique<LiteralExpr>(token.pos, Value::integer(value));
      }
      case TK::kFloat:
        return std::make_unique<LiteralExpr>(token.pos, Value::number(std::stod(token.text)));
      case TK::kName: {
        const std::string& name = token.text;
        if (name == "true" || name == "True") {
          return std::make_unique<LiteralExpr>(token.pos, Value::boolean(true));
        }
        if (name == "false" || name == "False") {
          return std::make_unique<LiteralExpr>(token.pos, Value::boolean(false));
        }
        if (name == "none" || name == "None") {
          return std::make_unique<LiteralExpr>(token.pos, Value::none());
        }
        return std::make_unique<NameExpr>(token.pos, name);
      }
      case TK::kOperator:
        if (token.text == "(") {
          if (acceptOperator(")")) return std::make_unique<ListExpr>(Expr::Kind::kTuple, token.pos);
          ExprPtr inner = parseTupleOrExpression();
          expectOperator(")");
          return inner;
        }
        if (token.text == "[") {
          auto list = std::make_unique<ListExpr>(Expr::Kind::kList, token.pos);
          while (!isOperator("]")) {
            list->items.push_back(parseExpression());
            if (!acceptOperator(",")) break;
          }
          expectOperator("]");
          return list;
        }
        if (token.text == "{") {
          auto dict = std::make_unique<DictExpr>(token.pos);
          while (!isOperator("}")) {
            ExprPtr key = parseExpression();
            expectOperator(":");
            dict->items.emplace_back(std::move(key), parseExpression());
            if (!acceptOperator(",")) break;
          }
          expectOperator("}");
          return dict;
        }
        break;
      default:
        break;
    }
    fail("unexpected " + describe(token) + " in expression", token.pos);
  }

  std::vector<Token> tokens_;
  const ParseLimits& limits_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parseTemplate(std::string_view source, const ParseLimits& limits) {
  return Parser(tokenize(source), limits).parseProgram();
}

}  // namespace manifold::jinja
