//===- Parser.cpp - Parser of the HAT config language ---------------------===//
//
// A recursive-descent parser for the Python subset described in
// docs/config.md, following the structure of Python's grammar. Constructs
// outside the subset are recognised and rejected by name rather than with a
// generic syntax error.
//
//===----------------------------------------------------------------------===//

#include "Parser.h"
#include "Internal.h"
#include "Lexer.h"

#include <cstring>
#include <deque>

namespace hat::config {

const char *spelling(BinaryOperator op) {
  switch (op) {
  case BinaryOperator::Add:
    return "+";
  case BinaryOperator::Sub:
    return "-";
  case BinaryOperator::Mul:
    return "*";
  case BinaryOperator::Div:
    return "/";
  case BinaryOperator::FloorDiv:
    return "//";
  case BinaryOperator::Mod:
    return "%";
  case BinaryOperator::Pow:
    return "**";
  case BinaryOperator::MatMul:
    return "@";
  case BinaryOperator::BitAnd:
    return "&";
  case BinaryOperator::BitOr:
    return "|";
  case BinaryOperator::BitXor:
    return "^";
  case BinaryOperator::LShift:
    return "<<";
  case BinaryOperator::RShift:
    return ">>";
  }
  return "?";
}

const char *spelling(CompareOperator op) {
  switch (op) {
  case CompareOperator::Lt:
    return "<";
  case CompareOperator::Le:
    return "<=";
  case CompareOperator::Gt:
    return ">";
  case CompareOperator::Ge:
    return ">=";
  case CompareOperator::Eq:
    return "==";
  case CompareOperator::Ne:
    return "!=";
  case CompareOperator::In:
    return "in";
  case CompareOperator::NotIn:
    return "not in";
  case CompareOperator::Is:
    return "is";
  case CompareOperator::IsNot:
    return "is not";
  }
  return "?";
}

namespace {

const char *const kKeywords[] = {
    "False",  "None",   "True",    "and",      "as",       "assert", "async",
    "await",  "break",  "class",   "continue", "def",      "del",    "elif",
    "else",   "except", "finally", "for",      "from",     "global", "if",
    "import", "in",     "is",      "lambda",   "nonlocal", "not",    "or",
    "pass",   "raise",  "return",  "try",      "while",    "with",   "yield"};

bool isKeyword(const std::string &name) {
  for (const char *keyword : kKeywords)
    if (name == keyword)
      return true;
  return false;
}

/// Why a statement keyword is not part of the config language.
const char *unsupportedStatement(const std::string &keyword) {
  if (keyword == "while")
    return "'while' loops are not supported in HAT configs; use 'for' over "
           "range(...)";
  if (keyword == "class")
    return "'class' definitions are not supported in HAT configs; use dicts "
           "with 'type=' and registered builders";
  if (keyword == "with")
    return "'with' statements are not supported in HAT configs";
  if (keyword == "try" || keyword == "except" || keyword == "finally")
    return "'try'/'except' is not supported in HAT configs";
  if (keyword == "raise")
    return "'raise' is not supported in HAT configs; use 'assert condition, "
           "\"message\"'";
  if (keyword == "global" || keyword == "nonlocal")
    return "'global'/'nonlocal' declarations are not supported in HAT configs";
  if (keyword == "async" || keyword == "await")
    return "async code is not supported in HAT configs";
  if (keyword == "yield")
    return "generators ('yield') are not supported in HAT configs";
  if (keyword == "lambda")
    return "lambda expressions are not supported in HAT configs; define a "
           "function with 'def'";
  return nullptr;
}

class Parser {
public:
  Parser(Lexer lexer) : lexer_(std::move(lexer)) {}

  std::shared_ptr<ParsedModule> parseFile() {
    auto module = std::make_shared<ParsedModule>();
    module->file = lexer_.file();
    while (lookahead().kind != TokenKind::End) {
      if (lookahead().kind == TokenKind::Indent)
        errorAt(peek(), "unexpected indent");
      if (lookahead().kind == TokenKind::Newline) {
        take();
        continue;
      }
      parseStatement(module->body);
    }
    return module;
  }

  ExprPtr parseWholeExpression() {
    ExprPtr expr = parseExprList(/*allowStar=*/false, /*forTarget=*/false);
    if (lookahead().kind != TokenKind::End)
      errorExpected(peek(), "end of expression");
    return expr;
  }

private:
  //===--------------------------------------------------------------------===//
  // Tokens
  //===--------------------------------------------------------------------===//

  /// A copy, so that holding it across take() is safe.
  Token peek(size_t ahead = 0) { return lookahead(ahead); }
  /// The token itself, for a test such as `lookahead().isOp("+")`: valid
  /// until the next take(). The parser tests the next token at every
  /// precedence level, so a copy for each test (peek) dominated parsing.
  const Token &lookahead(size_t ahead = 0) {
    while (buffer_.size() <= ahead)
      buffer_.push_back(lexer_.next());
    return buffer_[ahead];
  }
  Token take() {
    peek();
    Token token = std::move(buffer_.front());
    buffer_.pop_front();
    return token;
  }
  SourceLoc loc(const Token &token) const {
    return SourceLoc{lexer_.file(), token.line, token.column};
  }

  [[noreturn]] void errorAt(const Token &token, std::string message) {
    fail(loc(token), std::move(message));
  }

  static std::string describe(const Token &token) {
    switch (token.kind) {
    case TokenKind::Name:
      return isKeyword(token.text) ? "keyword '" + token.text + "'"
                                   : "name '" + token.text + "'";
    case TokenKind::Int:
    case TokenKind::Float:
      return "number " + token.text;
    case TokenKind::String:
      return "string literal";
    case TokenKind::Op:
      return "'" + token.text + "'";
    case TokenKind::Newline:
      return "end of line";
    case TokenKind::Indent:
      return "indent";
    case TokenKind::Dedent:
      return "dedent";
    case TokenKind::End:
      return "end of input";
    }
    return "token";
  }

  [[noreturn]] void errorExpected(const Token &token, const std::string &what) {
    if (token.isOp(":="))
      errorAt(token, "assignment expressions (':=') are not supported in HAT "
                     "configs");
    if (token.kind == TokenKind::Name)
      if (const char *why = unsupportedStatement(token.text))
        errorAt(token, why);
    errorAt(token, "expected " + what + ", found " + describe(token));
  }

  Token expectOp(const char *op, const std::string &context = {}) {
    if (!lookahead().isOp(op))
      errorExpected(peek(), std::string("'") + op + "'" +
                                (context.empty() ? "" : " " + context));
    return take();
  }
  bool acceptOp(const char *op) {
    if (lookahead().isOp(op)) {
      take();
      return true;
    }
    return false;
  }
  bool acceptKeyword(const char *keyword) {
    if (lookahead().isKeyword(keyword)) {
      take();
      return true;
    }
    return false;
  }
  std::string expectName(const std::string &what) {
    const Token &token = peek();
    if (token.kind != TokenKind::Name || isKeyword(token.text))
      errorExpected(token, what);
    return take().text;
  }
  void expectEndOfStatement() {
    if (lookahead().kind == TokenKind::Newline) {
      take();
      return;
    }
    if (lookahead().kind == TokenKind::End)
      return;
    errorExpected(peek(), "end of line");
  }

  struct DepthGuard {
    Parser &parser;
    DepthGuard(Parser &parser, const Token &token) : parser(parser) {
      if (++parser.depth_ > kMaxNestingDepth)
        parser.errorAt(token, "expression or block nested too deeply (more "
                              "than " +
                                  std::to_string(kMaxNestingDepth) +
                                  " levels)");
    }
    ~DepthGuard() { --parser.depth_; }
  };

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  void parseStatement(StmtList &out) {
    const Token &token = peek();
    DepthGuard guard(*this, token);
    if (token.kind == TokenKind::Name) {
      if (const char *why = unsupportedStatement(token.text))
        if (token.text != "lambda" && token.text != "await")
          errorAt(token, why);
      if (token.text == "if")
        return out.push_back(parseIf());
      if (token.text == "for")
        return out.push_back(parseFor());
      if (token.text == "def")
        return out.push_back(parseDef());
      if (token.text == "elif" || token.text == "else")
        errorAt(token, "'" + token.text + "' without a matching 'if'");
    }
    if (token.isOp("@"))
      errorAt(token, "decorators are not supported in HAT configs");
    if (token.kind == TokenKind::Indent)
      errorAt(token, "unexpected indent");
    // simple_stmt: small statements separated by ';'
    while (true) {
      out.push_back(parseSmallStatement());
      if (!acceptOp(";"))
        break;
      if (lookahead().kind == TokenKind::Newline ||
          lookahead().kind == TokenKind::End)
        break;
    }
    expectEndOfStatement();
  }

  StmtList parseSuite() {
    expectOp(":");
    StmtList body;
    if (lookahead().kind != TokenKind::Newline) {
      // `if x: y = 1` on one line
      while (true) {
        body.push_back(parseSmallStatement());
        if (!acceptOp(";"))
          break;
        if (lookahead().kind == TokenKind::Newline ||
            lookahead().kind == TokenKind::End)
          break;
      }
      expectEndOfStatement();
      return body;
    }
    take();
    if (lookahead().kind != TokenKind::Indent)
      errorExpected(peek(), "an indented block");
    take();
    while (lookahead().kind != TokenKind::Dedent &&
           lookahead().kind != TokenKind::End) {
      if (lookahead().kind == TokenKind::Newline) {
        take();
        continue;
      }
      parseStatement(body);
    }
    if (lookahead().kind == TokenKind::Dedent)
      take();
    return body;
  }

  StmtPtr parseIf() {
    Token keyword = take(); // 'if' or 'elif'
    auto stmt = std::make_unique<IfStmt>(loc(keyword));
    stmt->condition = parseTest();
    stmt->body = parseSuite();
    if (lookahead().isKeyword("elif")) {
      stmt->orElse.push_back(parseIf());
    } else if (lookahead().isKeyword("else")) {
      take();
      stmt->orElse = parseSuite();
    }
    return stmt;
  }

  StmtPtr parseFor() {
    Token keyword = take();
    auto stmt = std::make_unique<ForStmt>(loc(keyword));
    stmt->target = parseTargetList();
    checkTarget(*stmt->target);
    if (!acceptKeyword("in"))
      errorExpected(peek(), "'in'");
    stmt->iterable = parseExprList(/*allowStar=*/false, /*forTarget=*/false);
    stmt->body = parseSuite();
    if (lookahead().isKeyword("else"))
      errorAt(peek(), "'for ... else' is not supported in HAT configs");
    return stmt;
  }

  StmtPtr parseDef() {
    Token keyword = take();
    std::string name = expectName("a function name after 'def'");
    auto stmt = std::make_unique<FunctionDefStmt>(loc(keyword), name);
    expectOp("(", "after the function name");
    bool seenDefault = false;
    while (!lookahead().isOp(")")) {
      Parameter param;
      Token start = peek();
      param.loc = loc(start);
      if (acceptOp("**")) {
        param.kind = Parameter::VarKwargs;
      } else if (acceptOp("*")) {
        if (lookahead().isOp(",") || lookahead().isOp(")"))
          errorAt(start, "keyword-only parameter markers ('*') are not "
                         "supported in HAT configs");
        param.kind = Parameter::VarArgs;
      } else if (lookahead().isOp("/")) {
        errorAt(start, "positional-only parameter markers ('/') are not "
                       "supported in HAT configs");
      }
      param.name = expectName("a parameter name");
      for (const Parameter &other : stmt->params)
        if (other.name == param.name)
          errorAt(start, "duplicate parameter '" + param.name + "'");
      if (acceptOp(":"))
        parseTest(); // annotations are documentation only
      if (param.kind == Parameter::Normal) {
        if (acceptOp("=")) {
          param.defaultValue = parseTest();
          seenDefault = true;
        } else if (seenDefault) {
          errorAt(start, "parameter without a default follows a parameter "
                         "with a default");
        }
      }
      if (!stmt->params.empty() &&
          stmt->params.back().kind == Parameter::VarKwargs)
        errorAt(start,
                "no parameter may follow '**" + stmt->params.back().name + "'");
      stmt->params.push_back(std::move(param));
      if (!acceptOp(","))
        break;
    }
    expectOp(")", "to close the parameter list");
    if (acceptOp("->"))
      parseTest();
    stmt->body = parseSuite();
    return stmt;
  }

  StmtPtr parseSmallStatement() {
    const Token &token = peek();
    SourceLoc start = loc(token);
    if (token.kind == TokenKind::Name) {
      const std::string &word = token.text;
      if (word == "pass" || word == "break" || word == "continue") {
        StmtKind kind = word == "pass"    ? StmtKind::Pass
                        : word == "break" ? StmtKind::Break
                                          : StmtKind::Continue;
        take();
        return std::make_unique<SimpleStmt>(kind, start);
      }
      if (word == "return") {
        take();
        ExprPtr value;
        if (lookahead().kind != TokenKind::Newline &&
            lookahead().kind != TokenKind::End && !lookahead().isOp(";"))
          value = parseExprList(/*allowStar=*/false, /*forTarget=*/false);
        return std::make_unique<ReturnStmt>(start, std::move(value));
      }
      if (word == "import")
        return parseImport();
      if (word == "from")
        return parseFromImport();
      if (word == "assert") {
        take();
        auto stmt = std::make_unique<AssertStmt>(start);
        stmt->condition = parseTest();
        if (acceptOp(","))
          stmt->message = parseTest();
        return stmt;
      }
      if (word == "del") {
        take();
        auto stmt = std::make_unique<DeleteStmt>(start);
        do {
          stmt->targets.push_back(parseBitOr());
          ExprKind kind = stmt->targets.back()->kind;
          if (kind != ExprKind::Name && kind != ExprKind::Subscript)
            fail(stmt->targets.back()->loc,
                 "'del' supports only names and subscripts");
        } while (acceptOp(","));
        return stmt;
      }
      if (const char *why = unsupportedStatement(word))
        if (word != "lambda" && word != "await")
          errorAt(token, why);
      if (word == "def" || word == "if" || word == "for")
        errorAt(token, "'" + word + "' must start a new line");
    }

    ExprPtr first = parseExprList(/*allowStar=*/true, /*forTarget=*/false);
    const Token &next = peek();
    if (next.isOp("=")) {
      auto stmt = std::make_unique<AssignStmt>(start);
      ExprPtr current = std::move(first);
      while (acceptOp("=")) {
        checkTarget(*current);
        stmt->targets.push_back(std::move(current));
        current = parseExprList(/*allowStar=*/true, /*forTarget=*/false);
      }
      stmt->value = std::move(current);
      return stmt;
    }
    static const std::pair<const char *, BinaryOperator> augmented[] = {
        {"+=", BinaryOperator::Add},       {"-=", BinaryOperator::Sub},
        {"*=", BinaryOperator::Mul},       {"/=", BinaryOperator::Div},
        {"//=", BinaryOperator::FloorDiv}, {"%=", BinaryOperator::Mod},
        {"**=", BinaryOperator::Pow},      {"&=", BinaryOperator::BitAnd},
        {"|=", BinaryOperator::BitOr},     {"^=", BinaryOperator::BitXor},
        {"<<=", BinaryOperator::LShift},   {">>=", BinaryOperator::RShift},
        {"@=", BinaryOperator::MatMul}};
    for (const auto &[op, binary] : augmented) {
      if (next.isOp(op)) {
        Token opToken = take();
        if (first->kind != ExprKind::Name &&
            first->kind != ExprKind::Subscript &&
            first->kind != ExprKind::Attribute)
          fail(first->loc, std::string("illegal target for '") + op + "'");
        checkTarget(*first);
        ExprPtr value = parseExprList(/*allowStar=*/false, /*forTarget=*/false);
        return std::make_unique<AugAssignStmt>(
            loc(opToken), binary, std::move(first), std::move(value));
      }
    }
    if (next.isOp(":")) {
      // Annotated assignment `x: int = 1`; the annotation is ignored.
      take();
      if (first->kind != ExprKind::Name && first->kind != ExprKind::Subscript &&
          first->kind != ExprKind::Attribute)
        fail(first->loc, "illegal target for an annotation");
      parseTest();
      if (!acceptOp("="))
        return std::make_unique<SimpleStmt>(StmtKind::Pass, start);
      auto stmt = std::make_unique<AssignStmt>(start);
      checkTarget(*first);
      stmt->targets.push_back(std::move(first));
      stmt->value = parseExprList(/*allowStar=*/true, /*forTarget=*/false);
      return stmt;
    }
    if (first->kind == ExprKind::Starred)
      fail(first->loc, "can't use starred expression here");
    return std::make_unique<ExprStmt>(start, std::move(first));
  }

  std::string parseDottedName() {
    std::string name = expectName("a module name");
    while (acceptOp("."))
      name += "." + expectName("a name after '.'");
    return name;
  }

  StmtPtr parseImport() {
    Token keyword = take();
    auto stmt = std::make_unique<ImportStmt>(StmtKind::Import, loc(keyword));
    do {
      ImportStmt::Alias alias;
      alias.loc = loc(peek());
      alias.name = parseDottedName();
      if (acceptKeyword("as"))
        alias.asName = expectName("a name after 'as'");
      stmt->names.push_back(std::move(alias));
    } while (acceptOp(","));
    return stmt;
  }

  StmtPtr parseFromImport() {
    Token keyword = take();
    auto stmt =
        std::make_unique<ImportStmt>(StmtKind::ImportFrom, loc(keyword));
    if (lookahead().isOp(".") || lookahead().isOp("..."))
      errorAt(peek(), "relative imports are not supported in HAT configs");
    stmt->module = parseDottedName();
    if (!acceptKeyword("import"))
      errorExpected(peek(), "'import'");
    if (lookahead().isOp("*"))
      errorAt(peek(),
              "'from " + stmt->module +
                  " import *' is not supported; import names explicitly");
    bool parenthesized = acceptOp("(");
    do {
      if (parenthesized && lookahead().isOp(")"))
        break;
      ImportStmt::Alias alias;
      alias.loc = loc(peek());
      alias.name = expectName("a name to import");
      if (acceptKeyword("as"))
        alias.asName = expectName("a name after 'as'");
      stmt->names.push_back(std::move(alias));
    } while (acceptOp(","));
    if (parenthesized)
      expectOp(")");
    return stmt;
  }

  void checkTarget(const Expr &target) {
    switch (target.kind) {
    case ExprKind::Name:
    case ExprKind::Attribute:
    case ExprKind::Subscript:
      return;
    case ExprKind::List:
    case ExprKind::Tuple:
      for (const ExprPtr &element :
           static_cast<const SequenceExpr &>(target).elements)
        checkTarget(*element);
      return;
    case ExprKind::Starred:
      fail(target.loc, "starred assignment targets are not supported in HAT "
                       "configs");
    case ExprKind::Constant:
      fail(target.loc, "cannot assign to a literal");
    case ExprKind::Call:
      fail(target.loc, "cannot assign to a function call");
    default:
      fail(target.loc, "cannot assign to an expression (did you mean '=='?)");
    }
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  /// `a, b, *c` — a tuple when there is a comma. `forTarget` parses the
  /// operands at `|` level so that `for x in y` leaves `in` alone.
  ExprPtr parseExprList(bool allowStar, bool forTarget) {
    SourceLoc start = loc(peek());
    auto parseOne = [&]() -> ExprPtr {
      if (allowStar && lookahead().isOp("*")) {
        Token star = take();
        return std::make_unique<StarredExpr>(loc(star), parseBitOr());
      }
      return forTarget ? parseBitOr() : parseTest();
    };
    ExprPtr first = parseOne();
    if (!lookahead().isOp(","))
      return first;
    auto tuple = std::make_unique<SequenceExpr>(ExprKind::Tuple, start);
    tuple->elements.push_back(std::move(first));
    while (acceptOp(",")) {
      if (!startsExpression(peek()))
        break;
      tuple->elements.push_back(parseOne());
    }
    return tuple;
  }

  ExprPtr parseTargetList() { return parseExprList(false, true); }

  bool startsExpression(const Token &token) {
    switch (token.kind) {
    case TokenKind::Name:
      return !isKeyword(token.text) || token.text == "None" ||
             token.text == "True" || token.text == "False" ||
             token.text == "not" || token.text == "lambda";
    case TokenKind::Int:
    case TokenKind::Float:
    case TokenKind::String:
      return true;
    case TokenKind::Op:
      return token.text == "(" || token.text == "[" || token.text == "{" ||
             token.text == "-" || token.text == "+" || token.text == "~" ||
             token.text == "*" || token.text == "...";
    default:
      return false;
    }
  }

  ExprPtr parseTest() {
    const Token &token = peek();
    DepthGuard guard(*this, token);
    if (token.isKeyword("lambda") || token.isKeyword("yield") ||
        token.isKeyword("await"))
      errorAt(token, unsupportedStatement(token.text));
    SourceLoc start = loc(token);
    ExprPtr value = parseOr();
    if (lookahead().isKeyword("if")) {
      take();
      ExprPtr condition = parseOr();
      if (!acceptKeyword("else"))
        errorExpected(peek(), "'else' in the conditional expression");
      ExprPtr otherwise = parseTest();
      return std::make_unique<IfExpr>(start, std::move(condition),
                                      std::move(value), std::move(otherwise));
    }
    return value;
  }

  ExprPtr parseOr() {
    ExprPtr lhs = parseAnd();
    while (lookahead().isKeyword("or")) {
      Token op = take();
      lhs = std::make_unique<BoolExpr>(loc(op), false, std::move(lhs),
                                       parseAnd());
    }
    return lhs;
  }

  ExprPtr parseAnd() {
    ExprPtr lhs = parseNot();
    while (lookahead().isKeyword("and")) {
      Token op = take();
      lhs =
          std::make_unique<BoolExpr>(loc(op), true, std::move(lhs), parseNot());
    }
    return lhs;
  }

  ExprPtr parseNot() {
    if (lookahead().isKeyword("not")) {
      Token op = take();
      DepthGuard guard(*this, op);
      return std::make_unique<UnaryExpr>(loc(op), UnaryOperator::Not,
                                         parseNot());
    }
    return parseComparison();
  }

  ExprPtr parseComparison() {
    ExprPtr first = parseBitOr();
    std::unique_ptr<CompareExpr> compare;
    while (true) {
      const Token &token = lookahead();
      CompareOperator op;
      if (token.isOp("<"))
        op = CompareOperator::Lt;
      else if (token.isOp("<="))
        op = CompareOperator::Le;
      else if (token.isOp(">"))
        op = CompareOperator::Gt;
      else if (token.isOp(">="))
        op = CompareOperator::Ge;
      else if (token.isOp("=="))
        op = CompareOperator::Eq;
      else if (token.isOp("!="))
        op = CompareOperator::Ne;
      else if (token.isKeyword("in"))
        op = CompareOperator::In;
      else if (token.isKeyword("not") && lookahead(1).isKeyword("in"))
        op = CompareOperator::NotIn;
      else if (token.isKeyword("is"))
        op = lookahead(1).isKeyword("not") ? CompareOperator::IsNot
                                           : CompareOperator::Is;
      else
        break;
      Token opToken = take();
      if (op == CompareOperator::NotIn || op == CompareOperator::IsNot)
        take();
      if (!compare)
        compare = std::make_unique<CompareExpr>(loc(opToken), std::move(first));
      compare->rest.emplace_back(op, parseBitOr());
    }
    if (compare)
      return compare;
    return first;
  }

  ExprPtr parseBinaryLevel(int level) {
    // Levels from loosest to tightest: | ^ & shifts additive multiplicative.
    static const std::vector<
        std::vector<std::pair<const char *, BinaryOperator>>>
        levels = {
            {{"|", BinaryOperator::BitOr}},
            {{"^", BinaryOperator::BitXor}},
            {{"&", BinaryOperator::BitAnd}},
            {{"<<", BinaryOperator::LShift}, {">>", BinaryOperator::RShift}},
            {{"+", BinaryOperator::Add}, {"-", BinaryOperator::Sub}},
            {{"*", BinaryOperator::Mul},
             {"/", BinaryOperator::Div},
             {"//", BinaryOperator::FloorDiv},
             {"%", BinaryOperator::Mod},
             {"@", BinaryOperator::MatMul}},
        };
    if (level == static_cast<int>(levels.size()))
      return parseFactor();
    ExprPtr lhs = parseBinaryLevel(level + 1);
    while (true) {
      const Token &token = lookahead();
      const std::pair<const char *, BinaryOperator> *match = nullptr;
      for (const auto &candidate : levels[level])
        if (token.isOp(candidate.first))
          match = &candidate;
      if (!match)
        return lhs;
      Token opToken = take();
      lhs = std::make_unique<BinaryExpr>(loc(opToken), match->second,
                                         std::move(lhs),
                                         parseBinaryLevel(level + 1));
    }
  }

  ExprPtr parseBitOr() { return parseBinaryLevel(0); }

  ExprPtr parseFactor() {
    const Token &token = lookahead();
    UnaryOperator op;
    if (token.isOp("-"))
      op = UnaryOperator::Neg;
    else if (token.isOp("+"))
      op = UnaryOperator::Pos;
    else if (token.isOp("~"))
      op = UnaryOperator::Invert;
    else
      return parsePower();
    Token opToken = take();
    DepthGuard guard(*this, opToken);
    return std::make_unique<UnaryExpr>(loc(opToken), op, parseFactor());
  }

  ExprPtr parsePower() {
    ExprPtr base = parseAtomWithTrailers();
    if (lookahead().isOp("**")) {
      Token opToken = take();
      DepthGuard guard(*this, opToken);
      return std::make_unique<BinaryExpr>(loc(opToken), BinaryOperator::Pow,
                                          std::move(base), parseFactor());
    }
    return base;
  }

  ExprPtr parseAtomWithTrailers() {
    ExprPtr expr = parseAtom();
    while (true) {
      const Token &token = peek();
      if (token.isOp(".")) {
        Token dot = take();
        const Token &nameToken = peek();
        SourceLoc nameLoc = loc(nameToken);
        std::string name = expectName("an attribute name after '.'");
        expr = std::make_unique<AttributeExpr>(nameLoc, std::move(expr), name);
      } else if (token.isOp("(")) {
        Token open = take();
        auto call = std::make_unique<CallExpr>(loc(open), std::move(expr));
        parseCallArguments(*call);
        expr = std::move(call);
      } else if (token.isOp("[")) {
        Token open = take();
        ExprPtr index = parseSubscriptIndex();
        expectOp("]", "to close the subscript");
        expr = std::make_unique<SubscriptExpr>(loc(open), std::move(expr),
                                               std::move(index));
      } else {
        return expr;
      }
    }
  }

  void parseCallArguments(CallExpr &call) {
    bool seenKeyword = false;
    while (!lookahead().isOp(")")) {
      CallArgument arg;
      const Token &token = peek();
      if (token.isOp("**")) {
        take();
        arg.kind = CallArgument::DoubleStar;
        arg.value = parseTest();
        seenKeyword = true;
      } else if (token.isOp("*")) {
        take();
        arg.kind = CallArgument::Star;
        arg.value = parseTest();
      } else if (token.kind == TokenKind::Name && !isKeyword(token.text) &&
                 lookahead(1).isOp("=")) {
        arg.kind = CallArgument::Keyword;
        arg.name = take().text;
        take();
        for (const CallArgument &other : call.args)
          if (other.kind == CallArgument::Keyword && other.name == arg.name)
            errorAt(token, "keyword argument '" + arg.name + "' repeated");
        arg.value = parseTest();
        seenKeyword = true;
      } else {
        Token start = peek();
        arg.value = parseTest();
        if (lookahead().isKeyword("for")) {
          // f(x for x in xs): a generator argument, evaluated as a list.
          auto comprehension = std::make_unique<ComprehensionExpr>(loc(start));
          comprehension->element = std::move(arg.value);
          parseComprehensionClauses(*comprehension);
          arg.value = std::move(comprehension);
        }
        if (seenKeyword)
          errorAt(start, "positional argument follows keyword argument");
      }
      call.args.push_back(std::move(arg));
      if (!acceptOp(","))
        break;
    }
    expectOp(")", "to close the call");
  }

  ExprPtr parseSubscriptIndex() {
    SourceLoc start = loc(peek());
    auto parseItem = [&]() -> ExprPtr {
      SourceLoc itemStart = loc(peek());
      ExprPtr lower;
      if (!lookahead().isOp(":"))
        lower = parseTest();
      if (!lookahead().isOp(":"))
        return lower;
      take();
      auto slice = std::make_unique<SliceExpr>(itemStart);
      slice->lower = std::move(lower);
      if (!lookahead().isOp(":") && !lookahead().isOp("]") &&
          !lookahead().isOp(","))
        slice->upper = parseTest();
      if (acceptOp(":"))
        if (!lookahead().isOp("]") && !lookahead().isOp(","))
          slice->step = parseTest();
      return slice;
    };
    ExprPtr first = parseItem();
    if (!lookahead().isOp(","))
      return first;
    auto tuple = std::make_unique<SequenceExpr>(ExprKind::Tuple, start);
    tuple->elements.push_back(std::move(first));
    while (acceptOp(",") && !lookahead().isOp("]"))
      tuple->elements.push_back(parseItem());
    return tuple;
  }

  void parseComprehensionClauses(ComprehensionExpr &comprehension) {
    while (true) {
      if (lookahead().isKeyword("for")) {
        take();
        ComprehensionExpr::Clause clause;
        clause.isFor = true;
        clause.target = parseTargetList();
        checkTarget(*clause.target);
        if (!acceptKeyword("in"))
          errorExpected(peek(), "'in'");
        clause.expr = parseOr();
        comprehension.clauses.push_back(std::move(clause));
      } else if (lookahead().isKeyword("if")) {
        take();
        ComprehensionExpr::Clause clause;
        clause.isFor = false;
        clause.expr = parseOr();
        comprehension.clauses.push_back(std::move(clause));
      } else {
        return;
      }
    }
  }

  ExprPtr parseAtom() {
    const Token &token = peek();
    DepthGuard guard(*this, token);
    SourceLoc start = loc(token);
    switch (token.kind) {
    case TokenKind::Int:
      return std::make_unique<ConstantExpr>(start,
                                            Value::integer(take().intValue));
    case TokenKind::Float:
      return std::make_unique<ConstantExpr>(start,
                                            Value::real(take().floatValue));
    case TokenKind::String:
      return parseStrings();
    case TokenKind::Name: {
      const std::string &name = token.text;
      if (name == "None") {
        take();
        return std::make_unique<ConstantExpr>(start, Value::none());
      }
      if (name == "True" || name == "False") {
        bool value = name == "True";
        take();
        return std::make_unique<ConstantExpr>(start, Value::boolean(value));
      }
      if (isKeyword(name))
        errorExpected(token, "an expression");
      return std::make_unique<NameExpr>(start, take().text);
    }
    case TokenKind::Op:
      if (token.isOp("("))
        return parseParenthesized();
      if (token.isOp("["))
        return parseListDisplay();
      if (token.isOp("{"))
        return parseDictDisplay();
      if (token.isOp("..."))
        errorAt(token, "'...' (Ellipsis) is not supported in HAT configs");
      errorExpected(token, "an expression");
    default:
      errorExpected(token, "an expression");
    }
  }

  ExprPtr parseParenthesized() {
    Token open = take();
    SourceLoc start = loc(open);
    if (acceptOp(")"))
      return std::make_unique<SequenceExpr>(ExprKind::Tuple, start);
    if (lookahead().isKeyword("yield"))
      errorAt(peek(), unsupportedStatement("yield"));
    ExprPtr first = lookahead().isOp("*")
                        ? parseExprList(/*allowStar=*/true, /*forTarget=*/false)
                        : parseTest();
    if (lookahead().isKeyword("for")) {
      auto comprehension = std::make_unique<ComprehensionExpr>(start);
      comprehension->element = std::move(first);
      parseComprehensionClauses(*comprehension);
      expectOp(")", "to close the generator expression");
      return comprehension; // generators are evaluated eagerly, as lists
    }
    if (lookahead().isOp(",")) {
      auto tuple = std::make_unique<SequenceExpr>(ExprKind::Tuple, start);
      tuple->elements.push_back(std::move(first));
      while (acceptOp(",") && !lookahead().isOp(")")) {
        if (lookahead().isOp("*")) {
          Token star = take();
          tuple->elements.push_back(
              std::make_unique<StarredExpr>(loc(star), parseBitOr()));
        } else {
          tuple->elements.push_back(parseTest());
        }
      }
      expectOp(")", "to close the tuple");
      return tuple;
    }
    expectOp(")", "to close the parenthesis opened at line " +
                      std::to_string(open.line) + ", column " +
                      std::to_string(open.column));
    return first;
  }

  ExprPtr parseListDisplay() {
    Token open = take();
    auto list = std::make_unique<SequenceExpr>(ExprKind::List, loc(open));
    while (!lookahead().isOp("]")) {
      if (lookahead().isOp("*")) {
        Token star = take();
        list->elements.push_back(
            std::make_unique<StarredExpr>(loc(star), parseBitOr()));
      } else {
        list->elements.push_back(parseTest());
      }
      if (list->elements.size() == 1 && lookahead().isKeyword("for") &&
          list->elements[0]->kind != ExprKind::Starred) {
        auto comprehension = std::make_unique<ComprehensionExpr>(loc(open));
        comprehension->element = std::move(list->elements[0]);
        parseComprehensionClauses(*comprehension);
        expectOp("]", "to close the list comprehension");
        return comprehension;
      }
      if (!acceptOp(","))
        break;
    }
    expectOp("]", "to close the list opened at line " +
                      std::to_string(open.line) + ", column " +
                      std::to_string(open.column));
    return list;
  }

  ExprPtr parseDictDisplay() {
    Token open = take();
    auto dict = std::make_unique<DictExpr>(loc(open));
    while (!lookahead().isOp("}")) {
      DictExpr::Entry entry;
      if (acceptOp("**")) {
        entry.value = parseBitOr();
      } else {
        entry.key = parseTest();
        if (!lookahead().isOp(":")) {
          if (lookahead().isOp(",") || lookahead().isOp("}"))
            fail(entry.key->loc, "set literals are not supported in HAT "
                                 "configs; use a list");
          errorExpected(peek(), "':' after the dict key");
        }
        take();
        entry.value = parseTest();
        if (dict->entries.empty() && lookahead().isKeyword("for")) {
          auto comprehension = std::make_unique<ComprehensionExpr>(loc(open));
          comprehension->resultKind = ComprehensionExpr::Dict;
          comprehension->element = std::move(entry.key);
          comprehension->value = std::move(entry.value);
          parseComprehensionClauses(*comprehension);
          expectOp("}", "to close the dict comprehension");
          return comprehension;
        }
      }
      dict->entries.push_back(std::move(entry));
      if (!acceptOp(","))
        break;
    }
    expectOp("}", "to close the dict opened at line " +
                      std::to_string(open.line) + ", column " +
                      std::to_string(open.column));
    return dict;
  }

  /// Adjacent string literals concatenate; any f-string among them makes
  /// the result an FStringExpr.
  ExprPtr parseStrings() {
    SourceLoc start = loc(peek());
    std::vector<Token> tokens;
    bool anyFormatted = false;
    while (lookahead().kind == TokenKind::String) {
      tokens.push_back(take());
      anyFormatted |= tokens.back().isFString;
    }
    if (!anyFormatted) {
      std::string text;
      for (const Token &token : tokens)
        text += token.text;
      return std::make_unique<ConstantExpr>(start,
                                            Value::string(std::move(text)));
    }
    auto fstring = std::make_unique<FStringExpr>(start);
    for (const Token &token : tokens) {
      if (!token.isFString) {
        FStringExpr::Part part;
        part.literal = token.text;
        fstring->parts.push_back(std::move(part));
        continue;
      }
      parseFStringContent(token, *fstring);
    }
    return fstring;
  }

  void parseFStringContent(const Token &token, FStringExpr &fstring) {
    const std::string &raw = token.text;
    const std::shared_ptr<const SourceFile> &file = lexer_.file();
    // Line/column of raw[i], advanced incrementally.
    unsigned line = token.contentLine, column = token.contentColumn;
    size_t tracked = 0;
    auto positionOf = [&](size_t index) {
      for (; tracked < index; ++tracked) {
        if (raw[tracked] == '\n') {
          ++line;
          column = 1;
        } else {
          ++column;
        }
      }
      return SourceLoc{file, line, column};
    };
    std::string literal;
    auto flushLiteral = [&](size_t literalStart) {
      if (literal.empty())
        return;
      FStringExpr::Part part;
      SourceLoc where = positionOf(literalStart);
      part.literal =
          token.isRaw ? literal
                      : decodeEscapes(literal, file, where.line, where.column);
      fstring.parts.push_back(std::move(part));
      literal.clear();
    };
    size_t literalStart = 0;
    size_t i = 0;
    while (i < raw.size()) {
      char c = raw[i];
      if (c == '{' && i + 1 < raw.size() && raw[i + 1] == '{') {
        literal += '{';
        i += 2;
        continue;
      }
      if (c == '}') {
        if (i + 1 < raw.size() && raw[i + 1] == '}') {
          literal += '}';
          i += 2;
          continue;
        }
        fail(positionOf(i), "f-string: single '}' is not allowed");
      }
      if (c == '\\' && !token.isRaw && i + 1 < raw.size()) {
        literal += raw.substr(i, 2);
        i += 2;
        continue;
      }
      if (c != '{') {
        literal += c;
        ++i;
        continue;
      }
      flushLiteral(literalStart);
      SourceLoc braceLoc = positionOf(i);
      size_t exprBegin = i + 1;
      size_t j = exprBegin;
      int depth = 0;
      char quote = 0;
      for (; j < raw.size(); ++j) {
        char d = raw[j];
        if (quote) {
          if (d == quote)
            quote = 0;
          continue;
        }
        if (d == '\'' || d == '"') {
          quote = d;
        } else if (d == '(' || d == '[' || d == '{') {
          ++depth;
        } else if (d == ')' || d == ']' || (d == '}' && depth > 0)) {
          --depth;
        } else if (depth == 0 &&
                   (d == '}' || d == ':' ||
                    (d == '!' && j + 1 < raw.size() && raw[j + 1] != '='))) {
          break;
        }
      }
      if (j >= raw.size())
        fail(braceLoc, "f-string: expecting '}'");
      std::string exprText = raw.substr(exprBegin, j - exprBegin);
      if (exprText.find_first_not_of(" \t\r\n") == std::string::npos)
        fail(braceLoc, "f-string: empty expression not allowed");
      SourceLoc exprLoc = positionOf(exprBegin);
      FStringExpr::Part part;
      {
        Lexer sub(file, token.contentBegin + exprBegin, token.contentBegin + j,
                  exprLoc.line, exprLoc.column);
        Parser subParser(std::move(sub));
        subParser.depth_ = depth_;
        part.expr = subParser.parseWholeExpression();
      }
      if (raw[j] == '!') {
        if (j + 1 >= raw.size() ||
            (raw[j + 1] != 'r' && raw[j + 1] != 's' && raw[j + 1] != 'a'))
          fail(positionOf(j), "f-string: invalid conversion character; "
                              "expected 'r', 's' or 'a'");
        part.conversion = raw[j + 1] == 'a' ? 'r' : raw[j + 1];
        j += 2;
        if (j >= raw.size() || (raw[j] != ':' && raw[j] != '}'))
          fail(braceLoc, "f-string: expecting '}'");
      }
      if (raw[j] == ':') {
        size_t specBegin = j + 1;
        size_t k = specBegin;
        while (k < raw.size() && raw[k] != '}') {
          if (raw[k] == '{')
            fail(positionOf(k), "f-string: nested replacement fields in "
                                "format specs are not supported");
          ++k;
        }
        if (k >= raw.size())
          fail(braceLoc, "f-string: expecting '}'");
        part.spec = raw.substr(specBegin, k - specBegin);
        j = k;
      }
      fstring.parts.push_back(std::move(part));
      i = j + 1;
      literalStart = i;
    }
    flushLiteral(literalStart);
  }

  Lexer lexer_;
  std::deque<Token> buffer_;
  unsigned depth_ = 0;
};

} // namespace

std::shared_ptr<ParsedModule>
parseModule(std::shared_ptr<const SourceFile> file) {
  Parser parser{Lexer(file)};
  return parser.parseFile();
}

ExprPtr parseStandaloneExpression(std::shared_ptr<const SourceFile> file) {
  size_t size = file->text().size();
  Parser parser{Lexer(file, 0, size, 1, 1)};
  return parser.parseWholeExpression();
}

} // namespace hat::config
