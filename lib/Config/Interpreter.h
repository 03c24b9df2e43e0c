//===- Interpreter.h - Evaluator of the HAT config language -----*- C++ -*-===//
#ifndef HAT_LIB_CONFIG_INTERPRETER_H
#define HAT_LIB_CONFIG_INTERPRETER_H

#include "AST.h"
#include "Internal.h"

namespace hat::config {

/// Tree-walking evaluator. One Interpreter evaluates one module load, one
/// expression or one call of a config function; all of them throw
/// ConfigError.
class Interpreter {
public:
  explicit Interpreter(const EvalOptions &options, Module *module = nullptr);

  /// A fresh, empty module (Module's state is private to the interpreter).
  static std::shared_ptr<Module> newModule(const std::string &path,
                                           const EvalOptions &options);

  /// Runs the module's statements in the module's global scope.
  void runModule(const std::shared_ptr<ParsedModule> &parsed);
  Value evaluateIn(const Expr &expr, const std::shared_ptr<Scope> &scope);
  Value callValue(const Value &callee, std::vector<Value> args, Kwargs kwargs,
                  const SourceLoc &loc);

  // Public for the builtins, which live in the same library.
  enum class Flow { Normal, Return, Break, Continue };
  Flow execBlock(const StmtList &body);
  Flow exec(const Stmt &stmt);
  Value eval(const Expr &expr);
  void assign(const Expr &target, const Value &value);
  std::vector<Value> iterate(const Value &value, const SourceLoc &loc);
  Value binaryOp(BinaryOperator op, const Value &lhs, const Value &rhs,
                 const SourceLoc &loc);
  bool compare(CompareOperator op, const Value &lhs, const Value &rhs,
               const SourceLoc &loc);
  /// <0, 0, >0 for orderable values; throws for unorderable ones.
  int order(const Value &lhs, const Value &rhs, const SourceLoc &loc,
            const char *op, unsigned depth = 0);
  void tick(const SourceLoc &loc);
  void checkLength(size_t length, const SourceLoc &loc);
  const EvalOptions &options() const { return options_; }

private:
  Value evalCall(const CallExpr &call);
  Value evalAttribute(const AttributeExpr &attribute);
  Value evalSubscript(const SubscriptExpr &subscript);
  /// `object[index]` and `object[index] = value` for a non-slice index.
  Value getItem(const Value &object, const Value &index,
                const SubscriptExpr &subscript);
  void setItem(const Value &container, const Value &index, const Value &value,
               const SubscriptExpr &subscript);
  Value evalComprehension(const ComprehensionExpr &comprehension);
  Value lookupName(const std::string &name, const SourceLoc &loc);
  void bindName(const std::string &name, Value value);
  Value callFunctionValue(const Value &function, std::vector<Value> args,
                          Kwargs kwargs, const SourceLoc &loc);
  Value callMethod(const Value &object, const std::string &name,
                   std::vector<Value> args, Kwargs kwargs,
                   const SourceLoc &loc);
  Value callBuiltin(const std::string &name, std::vector<Value> args,
                    Kwargs kwargs, const SourceLoc &loc);
  Value extendSymbol(const Value &symbol, const std::string &attribute,
                     const SourceLoc &loc);
  void execImport(const ImportStmt &stmt);

  EvalOptions options_;
  Module *module_;
  std::shared_ptr<Scope> scope_;
  std::shared_ptr<ParsedModule> parsed_;
  Value returnValue_;
  uint64_t steps_ = 0;
  unsigned callDepth_ = 0;
  unsigned loopDepth_ = 0;
  /// eval()/exec() frames on the native stack, bounded so that recursion
  /// through deeply nested expressions cannot overflow it.
  unsigned evalDepth_ = 0;
  struct DepthGuard;
};

} // namespace hat::config

#endif // HAT_LIB_CONFIG_INTERPRETER_H
