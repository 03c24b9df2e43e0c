//===- AST.h - Syntax tree of the HAT config language -----------*- C++ -*-===//
#ifndef HAT_LIB_CONFIG_AST_H
#define HAT_LIB_CONFIG_AST_H

#include "hat/Config/Diagnostic.h"
#include "hat/Config/Value.h"

#include <memory>
#include <string>
#include <vector>

namespace hat::config {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

enum class ExprKind {
  Constant,      // None, True, 1, 2.5, "text"
  FString,       // f"{x:.2f} ..."
  Name,          // x
  Attribute,     // value.name
  Subscript,     // value[index]
  Slice,         // lower:upper:step (only as a Subscript index)
  Call,          // f(args)
  BinaryOp,      // a + b
  UnaryOp,       // -a, not a
  BoolOp,        // a and b, a or b
  Compare,       // a < b <= c
  IfExp,         // a if c else b
  List,          // [a, *b]
  Tuple,         // (a, b)
  Dict,          // {k: v, **d}
  Starred,       // *a inside a list/tuple display
  Comprehension, // [x for x in xs if c], {k: v for ...}
};

struct Expr {
  ExprKind kind;
  SourceLoc loc;
  Expr(ExprKind kind, SourceLoc loc) : kind(kind), loc(std::move(loc)) {}
  virtual ~Expr() = default;
};

struct ConstantExpr : Expr {
  Value value;
  ConstantExpr(SourceLoc loc, Value value)
      : Expr(ExprKind::Constant, std::move(loc)), value(std::move(value)) {}
};

struct FStringExpr : Expr {
  struct Part {
    std::string literal; ///< Used when `expr` is null.
    ExprPtr expr;
    char conversion = 0; ///< 'r', 's' or 0
    std::string spec;
  };
  std::vector<Part> parts;
  explicit FStringExpr(SourceLoc loc)
      : Expr(ExprKind::FString, std::move(loc)) {}
};

struct NameExpr : Expr {
  std::string name;
  NameExpr(SourceLoc loc, std::string name)
      : Expr(ExprKind::Name, std::move(loc)), name(std::move(name)) {}
};

struct AttributeExpr : Expr {
  ExprPtr object;
  std::string name;
  AttributeExpr(SourceLoc loc, ExprPtr object, std::string name)
      : Expr(ExprKind::Attribute, std::move(loc)), object(std::move(object)),
        name(std::move(name)) {}
};

struct SubscriptExpr : Expr {
  ExprPtr object;
  ExprPtr index;
  SubscriptExpr(SourceLoc loc, ExprPtr object, ExprPtr index)
      : Expr(ExprKind::Subscript, std::move(loc)), object(std::move(object)),
        index(std::move(index)) {}
};

struct SliceExpr : Expr {
  ExprPtr lower, upper, step; // each may be null
  explicit SliceExpr(SourceLoc loc) : Expr(ExprKind::Slice, std::move(loc)) {}
};

struct CallArgument {
  enum Kind { Positional, Keyword, Star, DoubleStar } kind = Positional;
  std::string name;
  ExprPtr value;
};

struct CallExpr : Expr {
  ExprPtr callee;
  std::vector<CallArgument> args;
  CallExpr(SourceLoc loc, ExprPtr callee)
      : Expr(ExprKind::Call, std::move(loc)), callee(std::move(callee)) {}
};

enum class BinaryOperator {
  Add,
  Sub,
  Mul,
  Div,
  FloorDiv,
  Mod,
  Pow,
  MatMul,
  BitAnd,
  BitOr,
  BitXor,
  LShift,
  RShift
};
const char *spelling(BinaryOperator op);

struct BinaryExpr : Expr {
  BinaryOperator op;
  ExprPtr lhs, rhs;
  BinaryExpr(SourceLoc loc, BinaryOperator op, ExprPtr lhs, ExprPtr rhs)
      : Expr(ExprKind::BinaryOp, std::move(loc)), op(op), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
};

enum class UnaryOperator { Neg, Pos, Not, Invert };
struct UnaryExpr : Expr {
  UnaryOperator op;
  ExprPtr operand;
  UnaryExpr(SourceLoc loc, UnaryOperator op, ExprPtr operand)
      : Expr(ExprKind::UnaryOp, std::move(loc)), op(op),
        operand(std::move(operand)) {}
};

struct BoolExpr : Expr {
  bool isAnd;
  ExprPtr lhs, rhs;
  BoolExpr(SourceLoc loc, bool isAnd, ExprPtr lhs, ExprPtr rhs)
      : Expr(ExprKind::BoolOp, std::move(loc)), isAnd(isAnd),
        lhs(std::move(lhs)), rhs(std::move(rhs)) {}
};

enum class CompareOperator { Lt, Le, Gt, Ge, Eq, Ne, In, NotIn, Is, IsNot };
const char *spelling(CompareOperator op);

struct CompareExpr : Expr {
  ExprPtr first;
  std::vector<std::pair<CompareOperator, ExprPtr>> rest;
  CompareExpr(SourceLoc loc, ExprPtr first)
      : Expr(ExprKind::Compare, std::move(loc)), first(std::move(first)) {}
};

struct IfExpr : Expr {
  ExprPtr condition, whenTrue, whenFalse;
  IfExpr(SourceLoc loc, ExprPtr condition, ExprPtr whenTrue, ExprPtr whenFalse)
      : Expr(ExprKind::IfExp, std::move(loc)), condition(std::move(condition)),
        whenTrue(std::move(whenTrue)), whenFalse(std::move(whenFalse)) {}
};

struct SequenceExpr : Expr { // List or Tuple
  std::vector<ExprPtr> elements;
  SequenceExpr(ExprKind kind, SourceLoc loc) : Expr(kind, std::move(loc)) {}
};

struct DictExpr : Expr {
  struct Entry {
    ExprPtr key; ///< Null for `**value`.
    ExprPtr value;
  };
  std::vector<Entry> entries;
  explicit DictExpr(SourceLoc loc) : Expr(ExprKind::Dict, std::move(loc)) {}
};

struct StarredExpr : Expr {
  ExprPtr value;
  StarredExpr(SourceLoc loc, ExprPtr value)
      : Expr(ExprKind::Starred, std::move(loc)), value(std::move(value)) {}
};

struct ComprehensionExpr : Expr {
  enum Kind { List, Dict } resultKind = List;
  ExprPtr element; ///< The element (list) or the key (dict).
  ExprPtr value;   ///< Dict comprehensions only.
  struct Clause {
    bool isFor; ///< `for target in iterable` or `if condition`
    ExprPtr target;
    ExprPtr expr;
  };
  std::vector<Clause> clauses;
  explicit ComprehensionExpr(SourceLoc loc)
      : Expr(ExprKind::Comprehension, std::move(loc)) {}
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

enum class StmtKind {
  Expr,
  Assign,
  AugAssign,
  Import,
  ImportFrom,
  FunctionDef,
  Return,
  If,
  For,
  Break,
  Continue,
  Pass,
  Assert,
  Delete,
};

struct Stmt {
  StmtKind kind;
  SourceLoc loc;
  Stmt(StmtKind kind, SourceLoc loc) : kind(kind), loc(std::move(loc)) {}
  virtual ~Stmt() = default;
};

struct ExprStmt : Stmt {
  ExprPtr expr;
  ExprStmt(SourceLoc loc, ExprPtr expr)
      : Stmt(StmtKind::Expr, std::move(loc)), expr(std::move(expr)) {}
};

struct AssignStmt : Stmt {
  std::vector<ExprPtr> targets; ///< `a = b = value` has two
  ExprPtr value;
  explicit AssignStmt(SourceLoc loc) : Stmt(StmtKind::Assign, std::move(loc)) {}
};

struct AugAssignStmt : Stmt {
  BinaryOperator op;
  ExprPtr target, value;
  AugAssignStmt(SourceLoc loc, BinaryOperator op, ExprPtr target, ExprPtr value)
      : Stmt(StmtKind::AugAssign, std::move(loc)), op(op),
        target(std::move(target)), value(std::move(value)) {}
};

struct ImportStmt : Stmt {
  struct Alias {
    std::string name; ///< Dotted module name or imported name.
    std::string asName;
    SourceLoc loc;
  };
  std::string module; ///< ImportFrom only.
  std::vector<Alias> names;
  ImportStmt(StmtKind kind, SourceLoc loc) : Stmt(kind, std::move(loc)) {}
};

struct Parameter {
  std::string name;
  ExprPtr defaultValue;
  enum Kind { Normal, VarArgs, VarKwargs } kind = Normal;
  SourceLoc loc;
};

/// The tree of one parsed source, kept alive by the functions defined in it.
struct ParsedModule {
  std::shared_ptr<const SourceFile> file;
  StmtList body;
};

struct FunctionDefStmt : Stmt {
  std::string name;
  std::vector<Parameter> params;
  StmtList body;
  FunctionDefStmt(SourceLoc loc, std::string name)
      : Stmt(StmtKind::FunctionDef, std::move(loc)), name(std::move(name)) {}
};

struct ReturnStmt : Stmt {
  ExprPtr value; // may be null
  ReturnStmt(SourceLoc loc, ExprPtr value)
      : Stmt(StmtKind::Return, std::move(loc)), value(std::move(value)) {}
};

struct IfStmt : Stmt {
  ExprPtr condition;
  StmtList body, orElse;
  explicit IfStmt(SourceLoc loc) : Stmt(StmtKind::If, std::move(loc)) {}
};

struct ForStmt : Stmt {
  ExprPtr target, iterable;
  StmtList body;
  explicit ForStmt(SourceLoc loc) : Stmt(StmtKind::For, std::move(loc)) {}
};

struct AssertStmt : Stmt {
  ExprPtr condition, message;
  explicit AssertStmt(SourceLoc loc) : Stmt(StmtKind::Assert, std::move(loc)) {}
};

struct DeleteStmt : Stmt {
  std::vector<ExprPtr> targets;
  explicit DeleteStmt(SourceLoc loc) : Stmt(StmtKind::Delete, std::move(loc)) {}
};

struct SimpleStmt : Stmt { // break, continue, pass
  using Stmt::Stmt;
};

/// A `def` evaluated into a value: the tree stays owned by its module.
struct FunctionData {
  std::shared_ptr<ParsedModule> module;
  const FunctionDefStmt *def = nullptr;
  std::vector<Value> defaults; ///< Evaluated at `def` time, one per param.
  std::shared_ptr<struct Scope> closure;
};

} // namespace hat::config

#endif // HAT_LIB_CONFIG_AST_H
