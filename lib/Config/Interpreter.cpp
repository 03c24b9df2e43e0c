//===- Interpreter.cpp - Evaluator of the HAT config language -------------===//
//
// Evaluates the syntax tree with Python's semantics for the supported subset:
// reference semantics for containers, 64-bit integers (overflow is an error
// rather than a switch to big integers), floor division and modulo with the
// sign of the divisor, symbols for everything imported.
//
//===----------------------------------------------------------------------===//

#include "Interpreter.h"
#include "Parser.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <new>
#include <sstream>
#include <sys/stat.h>

namespace hat::config {

//===----------------------------------------------------------------------===//
// Scope and Module
//===----------------------------------------------------------------------===//

Value *Scope::lookup(const std::string &name) {
  for (Scope *scope = this; scope; scope = scope->parent.get()) {
    auto found = scope->variables.find(name);
    if (found != scope->variables.end())
      return &found->second;
  }
  return nullptr;
}

void Scope::bind(const std::string &name, Value value) {
  auto [it, inserted] = variables.insert_or_assign(name, std::move(value));
  if (inserted)
    order.push_back(name);
}

bool Scope::unbind(const std::string &name) {
  if (variables.erase(name) == 0)
    return false;
  order.erase(std::find(order.begin(), order.end(), name));
  return true;
}

void ScopeRegistry::add(const std::shared_ptr<Scope> &scope) {
  // Drop expired entries now and then so a long-lived module calling its
  // functions many times does not grow the list without bound.
  if (scopes.size() >= 64 && scopes.size() % 64 == 0)
    scopes.erase(std::remove_if(scopes.begin(), scopes.end(),
                                [](const std::weak_ptr<Scope> &weak) {
                                  return weak.expired();
                                }),
                 scopes.end());
  scopes.push_back(scope);
}

void ScopeRegistry::clearAll() {
  std::vector<std::weak_ptr<Scope>> all;
  all.swap(scopes);
  for (const std::weak_ptr<Scope> &weak : all) {
    std::shared_ptr<Scope> scope = weak.lock();
    if (!scope)
      continue;
    // Move the variables out first: destroying them may free other scopes.
    std::unordered_map<std::string, Value> variables;
    variables.swap(scope->variables);
    scope->order.clear();
    scope->parent.reset();
  }
}

Module::Module() : globals_(std::make_shared<Scope>()) {
  globals_->registry = std::make_shared<ScopeRegistry>();
  globals_->registry->add(globals_);
}

Module::~Module() {
  std::shared_ptr<ScopeRegistry> registry = globals_->registry;
  registry->clearAll();
  registry->collectCycles();
}

const Value *Module::get(const std::string &name) const {
  auto found = globals_->variables.find(name);
  return found == globals_->variables.end() ? nullptr : &found->second;
}

Value *Module::get(const std::string &name) {
  auto found = globals_->variables.find(name);
  return found == globals_->variables.end() ? nullptr : &found->second;
}

void Module::set(const std::string &name, Value value) {
  globals_->bind(name, std::move(value));
  importNames_.erase(name);
}

std::vector<std::pair<std::string, Value>> Module::variables() const {
  std::vector<std::pair<std::string, Value>> result;
  for (const std::string &name : globals_->order)
    if (!importNames_.count(name))
      result.emplace_back(name, globals_->variables.at(name));
  return result;
}

std::string functionName(const Value &function) {
  if (!function.isFunction())
    return {};
  return function.asFunction().def->name;
}

//===----------------------------------------------------------------------===//
// Names known to the language
//===----------------------------------------------------------------------===//

static const char *const kBuiltinFunctions[] = {
    "abs",    "all",   "any",        "bool",  "dict",     "enumerate",
    "float",  "int",   "isinstance", "len",   "list",     "max",
    "min",    "print", "range",      "repr",  "reversed", "round",
    "sorted", "str",   "sum",        "tuple", "zip"};

static bool isBuiltinFunction(const std::string &name) {
  for (const char *builtin : kBuiltinFunctions)
    if (name == builtin)
      return true;
  return false;
}

/// What of `os` and `copy` a config may use; these are evaluated, unlike
/// other imported names, which stay symbols.
static const char *const kHostModuleNames[] = {
    "os",
    "os.path",
    "os.path.join",
    "os.path.exists",
    "os.path.isfile",
    "os.path.isdir",
    "os.path.basename",
    "os.path.dirname",
    "os.path.splitext",
    "os.path.abspath",
    "os.path.expanduser",
    "os.environ",
    "os.environ.get",
    "os.getenv",
    "copy",
    "copy.deepcopy",
    "copy.copy",
};

static std::string rootOf(const std::string &dotted) {
  return dotted.substr(0, dotted.find('.'));
}

static bool isHostModuleRoot(const std::string &dotted) {
  std::string root = rootOf(dotted);
  return root == "os" || root == "copy";
}

static void checkHostModuleName(const std::string &dotted,
                                const SourceLoc &loc) {
  if (!isHostModuleRoot(dotted))
    return;
  std::vector<std::string> known;
  for (const char *name : kHostModuleNames) {
    if (dotted == name)
      return;
    known.push_back(name);
  }
  fail(loc,
       "'" + dotted + "' is not supported in HAT configs; of 'os' and " +
           "'copy' only os.path.join/exists/isfile/isdir/basename/dirname/" +
           "splitext/abspath/expanduser, os.environ, os.environ.get, " +
           "os.getenv, copy.deepcopy and copy.copy are" +
           didYouMean(closestNames(dotted, known)));
}

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

Interpreter::Interpreter(const EvalOptions &options, Module *module)
    : options_(options), module_(module) {
  if (!options_.print)
    options_.print = [](const std::string &text) { std::cerr << text; };
  if (module_)
    scope_ = module_->globals_;
  else
    scope_ = std::make_shared<Scope>();
}

std::shared_ptr<Module> Interpreter::newModule(const std::string &path,
                                               const EvalOptions &options) {
  auto module = std::make_shared<Module>();
  module->path_ = path;
  module->options_ = options;
  // Like Python's module globals; hidden from variables() like an import.
  module->globals_->bind("__file__", Value::string(path));
  module->importNames_.insert("__file__");
  return module;
}

void Interpreter::tick(const SourceLoc &loc) {
  if (++steps_ > options_.maxSteps)
    fail(loc, "evaluation exceeded the limit of " +
                  std::to_string(options_.maxSteps) +
                  " steps (an unbounded loop or recursion?)");
}

void Interpreter::checkLength(size_t length, const SourceLoc &loc) {
  if (length > options_.maxSequenceLength)
    fail(loc, "result would have " + std::to_string(length) +
                  " elements, more than the limit of " +
                  std::to_string(options_.maxSequenceLength));
}

void Interpreter::runModule(const std::shared_ptr<ParsedModule> &parsed) {
  parsed_ = parsed;
  TrackContainersIn tracking(module_ ? module_->globals_->registry : nullptr);
  Flow flow = execBlock(parsed->body);
  (void)flow; // `return`/`break` at module level are rejected in exec()
}

Value Interpreter::evaluateIn(const Expr &expr,
                              const std::shared_ptr<Scope> &scope) {
  std::shared_ptr<Scope> saved = scope_;
  scope_ = scope;
  TrackContainersIn tracking(scope ? scope->registry : nullptr);
  Value result = eval(expr);
  scope_ = saved;
  return result;
}

Interpreter::Flow Interpreter::execBlock(const StmtList &body) {
  for (const StmtPtr &stmt : body) {
    Flow flow = exec(*stmt);
    if (flow != Flow::Normal)
      return flow;
  }
  return Flow::Normal;
}

void Interpreter::bindName(const std::string &name, Value value) {
  scope_->bind(name, std::move(value));
  if (module_ && scope_ == module_->globals_)
    module_->importNames_.erase(name);
}

void Interpreter::execImport(const ImportStmt &stmt) {
  bool atModuleLevel = module_ && scope_ == module_->globals_;
  auto bindImport = [&](const std::string &name, const std::string &dotted) {
    scope_->bind(name, Value::symbol(dotted));
    if (atModuleLevel)
      module_->importNames_.insert(name);
  };
  for (const ImportStmt::Alias &alias : stmt.names) {
    if (stmt.kind == StmtKind::Import) {
      checkHostModuleName(alias.name, alias.loc);
      if (!alias.asName.empty())
        bindImport(alias.asName, alias.name);
      else
        bindImport(rootOf(alias.name), rootOf(alias.name));
    } else {
      std::string dotted = stmt.module + "." + alias.name;
      checkHostModuleName(stmt.module, stmt.loc);
      checkHostModuleName(dotted, alias.loc);
      bindImport(alias.asName.empty() ? alias.name : alias.asName, dotted);
    }
  }
}

struct Interpreter::DepthGuard {
  Interpreter &interpreter;
  DepthGuard(Interpreter &interpreter, const SourceLoc &loc)
      : interpreter(interpreter) {
    if (++interpreter.evalDepth_ > kMaxEvalDepth) {
      --interpreter.evalDepth_;
      fail(loc, "evaluation nested too deeply (recursion through deeply "
                "nested expressions)");
    }
  }
  ~DepthGuard() { --interpreter.evalDepth_; }
};

Interpreter::Flow Interpreter::exec(const Stmt &stmt) {
  tick(stmt.loc);
  DepthGuard guard(*this, stmt.loc);
  switch (stmt.kind) {
  case StmtKind::Expr:
    eval(*static_cast<const ExprStmt &>(stmt).expr);
    return Flow::Normal;
  case StmtKind::Assign: {
    const auto &assignStmt = static_cast<const AssignStmt &>(stmt);
    Value value = eval(*assignStmt.value);
    for (const ExprPtr &target : assignStmt.targets)
      assign(*target, value);
    return Flow::Normal;
  }
  case StmtKind::AugAssign: {
    const auto &aug = static_cast<const AugAssignStmt &>(stmt);
    if (aug.target->kind == ExprKind::Subscript) {
      const auto &subscript = static_cast<const SubscriptExpr &>(*aug.target);
      if (subscript.index->kind == ExprKind::Slice)
        fail(subscript.loc, "augmented assignment to a slice is not supported "
                            "in HAT configs");
      // Evaluate container and index once, read, then store back.
      Value container = eval(*subscript.object);
      Value index = eval(*subscript.index);
      Value current = getItem(container, index, subscript);
      Value result = binaryOp(aug.op, current, eval(*aug.value), aug.loc);
      setItem(container, index, result, subscript);
      return Flow::Normal;
    }
    Value current = eval(*aug.target);
    Value rhs = eval(*aug.value);
    if (aug.op == BinaryOperator::Add && current.isList()) {
      // `a += b` extends a list in place (aliases see the change).
      std::vector<Value> extra = iterate(rhs, aug.loc);
      noteMutation(current);
      auto &items = current.asList().items;
      checkLength(items.size() + extra.size(), aug.loc);
      items.insert(items.end(), extra.begin(), extra.end());
      return Flow::Normal;
    }
    if (aug.op == BinaryOperator::BitOr && current.isDict() && rhs.isDict()) {
      noteMutation(current);
      for (const auto &[key, item] : rhs.asDict().entries)
        current.asDict().set(key, item);
      return Flow::Normal;
    }
    assign(*aug.target, binaryOp(aug.op, current, rhs, aug.loc));
    return Flow::Normal;
  }
  case StmtKind::Import:
  case StmtKind::ImportFrom:
    execImport(static_cast<const ImportStmt &>(stmt));
    return Flow::Normal;
  case StmtKind::FunctionDef: {
    const auto &def = static_cast<const FunctionDefStmt &>(stmt);
    auto data = std::make_shared<FunctionData>();
    data->module = parsed_;
    data->def = &def;
    data->closure = scope_;
    for (const Parameter &param : def.params)
      data->defaults.push_back(param.defaultValue ? eval(*param.defaultValue)
                                                  : Value());
    bindName(def.name, Value::function(data));
    return Flow::Normal;
  }
  case StmtKind::Return: {
    if (callDepth_ == 0)
      fail(stmt.loc, "'return' outside function");
    const auto &ret = static_cast<const ReturnStmt &>(stmt);
    returnValue_ = ret.value ? eval(*ret.value) : Value();
    return Flow::Return;
  }
  case StmtKind::If: {
    const auto &ifStmt = static_cast<const IfStmt &>(stmt);
    if (eval(*ifStmt.condition).truthy())
      return execBlock(ifStmt.body);
    return execBlock(ifStmt.orElse);
  }
  case StmtKind::For: {
    const auto &forStmt = static_cast<const ForStmt &>(stmt);
    std::vector<Value> items =
        iterate(eval(*forStmt.iterable), forStmt.iterable->loc);
    ++loopDepth_;
    Flow result = Flow::Normal;
    try {
      for (const Value &item : items) {
        assign(*forStmt.target, item);
        Flow flow = execBlock(forStmt.body);
        if (flow == Flow::Break)
          break;
        if (flow == Flow::Return) {
          result = flow;
          break;
        }
      }
    } catch (...) {
      --loopDepth_;
      throw;
    }
    --loopDepth_;
    return result;
  }
  case StmtKind::Break:
  case StmtKind::Continue:
    // The parser accepts them anywhere; only a loop body may use them.
    if (loopDepth_ == 0)
      fail(stmt.loc, std::string("'") +
                         (stmt.kind == StmtKind::Break ? "break" : "continue") +
                         "' outside loop");
    return stmt.kind == StmtKind::Break ? Flow::Break : Flow::Continue;
  case StmtKind::Pass:
    return Flow::Normal;
  case StmtKind::Assert: {
    const auto &assertStmt = static_cast<const AssertStmt &>(stmt);
    if (!eval(*assertStmt.condition).truthy())
      fail(stmt.loc,
           "assertion failed" + (assertStmt.message
                                     ? ": " + eval(*assertStmt.message).str()
                                     : std::string()));
    return Flow::Normal;
  }
  case StmtKind::Delete: {
    for (const ExprPtr &target :
         static_cast<const DeleteStmt &>(stmt).targets) {
      if (target->kind == ExprKind::Name) {
        const std::string &name = static_cast<const NameExpr &>(*target).name;
        if (!scope_->unbind(name))
          fail(target->loc, "name '" + name + "' is not defined");
        if (module_ && scope_ == module_->globals_)
          module_->importNames_.erase(name);
        continue;
      }
      const auto &subscript = static_cast<const SubscriptExpr &>(*target);
      Value container = eval(*subscript.object);
      Value index = eval(*subscript.index);
      if (container.isDict()) {
        if (!container.asDict().erase(index))
          fail(subscript.loc, "KeyError: " + index.repr());
      } else if (container.isList() && (index.isInt() || index.isBool())) {
        auto &items = container.asList().items;
        int64_t i = index.isBool() ? index.asBool() : index.asInt();
        if (i < 0)
          i += static_cast<int64_t>(items.size());
        if (i < 0 || i >= static_cast<int64_t>(items.size()))
          fail(subscript.loc, "list assignment index out of range");
        items.erase(items.begin() + i);
      } else {
        fail(subscript.loc, "'" + container.typeName() +
                                "' object does not support item deletion");
      }
    }
    return Flow::Normal;
  }
  }
  return Flow::Normal;
}

void Interpreter::assign(const Expr &target, const Value &value) {
  switch (target.kind) {
  case ExprKind::Name:
    bindName(static_cast<const NameExpr &>(target).name, value);
    return;
  case ExprKind::Subscript: {
    const auto &subscript = static_cast<const SubscriptExpr &>(target);
    if (subscript.index->kind == ExprKind::Slice)
      fail(subscript.loc, "slice assignment is not supported in HAT configs");
    Value container = eval(*subscript.object);
    Value index = eval(*subscript.index);
    setItem(container, index, value, subscript);
    return;
  }
  case ExprKind::Attribute: {
    const auto &attribute = static_cast<const AttributeExpr &>(target);
    Value object = eval(*attribute.object);
    fail(attribute.loc, "cannot set attribute '" + attribute.name + "' of a '" +
                            object.typeName() + "'" +
                            (object.isDict() ? " (set a dict key with d['" +
                                                   attribute.name + "'] = ...)"
                                             : std::string()));
  }
  case ExprKind::Tuple:
  case ExprKind::List: {
    const auto &elements = static_cast<const SequenceExpr &>(target).elements;
    std::vector<Value> items = iterate(value, target.loc);
    if (items.size() != elements.size())
      fail(target.loc, items.size() > elements.size()
                           ? "too many values to unpack (expected " +
                                 std::to_string(elements.size()) + ")"
                           : "not enough values to unpack (expected " +
                                 std::to_string(elements.size()) + ", got " +
                                 std::to_string(items.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i)
      assign(*elements[i], items[i]);
    return;
  }
  default:
    fail(target.loc, "cannot assign to this expression");
  }
}

Value Interpreter::lookupName(const std::string &name, const SourceLoc &loc) {
  if (Value *value = scope_->lookup(name))
    return *value;
  if (isBuiltinFunction(name))
    return Value::builtin(name);
  std::vector<std::string> candidates;
  for (Scope *scope = scope_.get(); scope; scope = scope->parent.get())
    candidates.insert(candidates.end(), scope->order.begin(),
                      scope->order.end());
  for (const char *builtin : kBuiltinFunctions)
    candidates.push_back(builtin);
  fail(loc, "name '" + name + "' is not defined" +
                didYouMean(closestNames(name, candidates)));
}

Value Interpreter::extendSymbol(const Value &symbol,
                                const std::string &attribute,
                                const SourceLoc &loc) {
  std::string dotted = symbol.symbolName() + "." + attribute;
  checkHostModuleName(dotted, loc);
  return Value::symbol(dotted);
}

std::vector<Value> Interpreter::iterate(const Value &value,
                                        const SourceLoc &loc) {
  switch (value.kind()) {
  case Value::Kind::List:
    return value.asList().items;
  case Value::Kind::Tuple:
    return value.asTuple().items;
  case Value::Kind::Dict: {
    std::vector<Value> keys;
    for (const auto &entry : value.asDict().entries)
      keys.push_back(entry.first);
    return keys;
  }
  case Value::Kind::Str: {
    // One item per UTF-8 character.
    std::vector<Value> chars;
    const std::string &text = value.asStr();
    for (size_t i = 0; i < text.size();) {
      size_t length = 1;
      while (i + length < text.size() &&
             (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80)
        ++length;
      chars.push_back(Value::string(text.substr(i, length)));
      i += length;
    }
    return chars;
  }
  case Value::Kind::Host: {
    if (!value.asHost())
      fail(loc, "null host object is not iterable");
    Expected<std::vector<Value>> items = value.asHost()->iterate();
    if (!items)
      fail(loc, items.error().message);
    return std::move(*items);
  }
  default:
    fail(loc, "'" + value.typeName() + "' object is not iterable");
  }
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Value Interpreter::eval(const Expr &expr) {
  tick(expr.loc);
  DepthGuard guard(*this, expr.loc);
  switch (expr.kind) {
  case ExprKind::Constant:
    return static_cast<const ConstantExpr &>(expr).value;
  case ExprKind::FString: {
    std::string out;
    for (const FStringExpr::Part &part :
         static_cast<const FStringExpr &>(expr).parts) {
      if (!part.expr) {
        out += part.literal;
        continue;
      }
      Value value = eval(*part.expr);
      if (part.conversion == 'r')
        value = Value::string(value.repr());
      else if (part.conversion == 's')
        value = Value::string(value.str());
      out += formatWithSpec(value, part.spec, part.expr->loc);
      checkLength(out.size(), expr.loc);
    }
    return Value::string(std::move(out));
  }
  case ExprKind::Name: {
    const auto &name = static_cast<const NameExpr &>(expr);
    return lookupName(name.name, name.loc);
  }
  case ExprKind::Attribute:
    return evalAttribute(static_cast<const AttributeExpr &>(expr));
  case ExprKind::Subscript:
    return evalSubscript(static_cast<const SubscriptExpr &>(expr));
  case ExprKind::Slice:
    fail(expr.loc, "a slice is only allowed inside '[...]'");
  case ExprKind::Call:
    return evalCall(static_cast<const CallExpr &>(expr));
  case ExprKind::BinaryOp: {
    const auto &binary = static_cast<const BinaryExpr &>(expr);
    Value lhs = eval(*binary.lhs);
    Value rhs = eval(*binary.rhs);
    return binaryOp(binary.op, lhs, rhs, binary.loc);
  }
  case ExprKind::UnaryOp: {
    const auto &unary = static_cast<const UnaryExpr &>(expr);
    Value operand = eval(*unary.operand);
    switch (unary.op) {
    case UnaryOperator::Not:
      return Value::boolean(!operand.truthy());
    case UnaryOperator::Neg:
      if (operand.isFloat())
        return Value::real(-operand.asFloat());
      if (operand.isInt() || operand.isBool()) {
        int64_t v = operand.isBool() ? operand.asBool() : operand.asInt();
        if (v == INT64_MIN)
          fail(unary.loc, "integer overflow (HAT config integers are 64-bit)");
        return Value::integer(-v);
      }
      break;
    case UnaryOperator::Pos:
      if (operand.isFloat() || operand.isInt())
        return operand;
      if (operand.isBool())
        return Value::integer(operand.asBool());
      break;
    case UnaryOperator::Invert:
      if (operand.isInt() || operand.isBool())
        return Value::integer(
            ~(operand.isBool() ? int64_t(operand.asBool()) : operand.asInt()));
      break;
    }
    static const char *const names[] = {"-", "+", "not", "~"};
    fail(unary.loc, std::string("bad operand type for unary ") +
                        names[static_cast<int>(unary.op)] + ": '" +
                        operand.typeName() + "'");
  }
  case ExprKind::BoolOp: {
    const auto &boolean = static_cast<const BoolExpr &>(expr);
    Value lhs = eval(*boolean.lhs);
    if (boolean.isAnd ? !lhs.truthy() : lhs.truthy())
      return lhs;
    return eval(*boolean.rhs);
  }
  case ExprKind::Compare: {
    const auto &compareExpr = static_cast<const CompareExpr &>(expr);
    Value lhs = eval(*compareExpr.first);
    for (const auto &[op, operand] : compareExpr.rest) {
      Value rhs = eval(*operand);
      if (!compare(op, lhs, rhs, compareExpr.loc))
        return Value::boolean(false);
      lhs = std::move(rhs);
    }
    return Value::boolean(true);
  }
  case ExprKind::IfExp: {
    const auto &ifExpr = static_cast<const IfExpr &>(expr);
    return eval(*ifExpr.condition).truthy() ? eval(*ifExpr.whenTrue)
                                            : eval(*ifExpr.whenFalse);
  }
  case ExprKind::List:
  case ExprKind::Tuple: {
    std::vector<Value> items;
    for (const ExprPtr &element :
         static_cast<const SequenceExpr &>(expr).elements) {
      if (element->kind == ExprKind::Starred) {
        std::vector<Value> spread =
            iterate(eval(*static_cast<const StarredExpr &>(*element).value),
                    element->loc);
        checkLength(items.size() + spread.size(), element->loc);
        items.insert(items.end(), spread.begin(), spread.end());
      } else {
        items.push_back(eval(*element));
      }
    }
    return expr.kind == ExprKind::List ? Value::list(std::move(items))
                                       : Value::tuple(std::move(items));
  }
  case ExprKind::Dict: {
    auto data = std::make_shared<DictData>();
    data->loc = expr.loc;
    for (const DictExpr::Entry &entry :
         static_cast<const DictExpr &>(expr).entries) {
      if (!entry.key) {
        Value spread = eval(*entry.value);
        if (!spread.isDict())
          fail(entry.value->loc, "'**' in a dict display needs a dict, not '" +
                                     spread.typeName() + "'");
        for (const auto &[key, item] : spread.asDict().entries)
          data->set(key, item);
        continue;
      }
      Value key = eval(*entry.key);
      if (key.isList() || key.isDict())
        fail(entry.key->loc, "unhashable type: '" + key.typeName() + "'");
      data->set(std::move(key), eval(*entry.value));
    }
    return Value::dict(data);
  }
  case ExprKind::Starred:
    fail(expr.loc, "can't use starred expression here");
  case ExprKind::Comprehension:
    return evalComprehension(static_cast<const ComprehensionExpr &>(expr));
  }
  fail(expr.loc, "unsupported expression");
}

Value Interpreter::evalComprehension(const ComprehensionExpr &comprehension) {
  // The loop variables live in their own scope, as in Python 3.
  auto saved = scope_;
  scope_ = std::make_shared<Scope>();
  scope_->parent = saved;
  scope_->registry = saved->registry;
  Value result = comprehension.resultKind == ComprehensionExpr::List
                     ? Value::list()
                     : Value::dict();
  if (result.isDict())
    result.asDict().loc = comprehension.loc;
  std::function<void(size_t)> run = [&](size_t clauseIndex) {
    if (clauseIndex == comprehension.clauses.size()) {
      if (result.isList()) {
        result.asList().items.push_back(eval(*comprehension.element));
        checkLength(result.asList().items.size(), comprehension.loc);
      } else {
        Value key = eval(*comprehension.element);
        if (key.isList() || key.isDict())
          fail(comprehension.element->loc,
               "unhashable type: '" + key.typeName() + "'");
        result.asDict().set(key, eval(*comprehension.value));
      }
      return;
    }
    const ComprehensionExpr::Clause &clause =
        comprehension.clauses[clauseIndex];
    if (!clause.isFor) {
      if (eval(*clause.expr).truthy())
        run(clauseIndex + 1);
      return;
    }
    for (const Value &item : iterate(eval(*clause.expr), clause.expr->loc)) {
      assign(*clause.target, item);
      run(clauseIndex + 1);
    }
  };
  try {
    run(0);
  } catch (...) {
    scope_ = saved;
    throw;
  }
  scope_ = saved;
  return result;
}

Value Interpreter::evalAttribute(const AttributeExpr &attribute) {
  Value object = eval(*attribute.object);
  if (object.isSymbol())
    return extendSymbol(object, attribute.name, attribute.loc);
  if (object.isHost() && object.asHost()) {
    Expected<Value> result = object.asHost()->getAttribute(attribute.name);
    if (!result)
      fail(attribute.loc, result.error().message);
    return std::move(*result);
  }
  if (object.isCall()) {
    // Reading a keyword argument back, e.g. `optimizer.lr`.
    for (const auto &[name, value] : object.asCall().kwargs)
      if (name == attribute.name)
        return value;
  }
  std::string hint;
  if (object.isDict())
    hint = " (dict keys are read with d['" + attribute.name + "'] or d.get('" +
           attribute.name + "'))";
  else if (object.isStr() || object.isList() || object.isTuple())
    hint = " (methods must be called directly, e.g. x." + attribute.name +
           "(...))";
  fail(attribute.loc, "'" + object.typeName() + "' object has no attribute '" +
                          attribute.name + "'" + hint);
}

static int64_t normalizeIndex(int64_t index, size_t size) {
  return index < 0 ? index + static_cast<int64_t>(size) : index;
}

/// Python slice semantics: start/stop/step clamped to the sequence.
static std::vector<size_t> sliceIndices(const Value &lower, const Value &upper,
                                        const Value &step, size_t size,
                                        const SourceLoc &loc) {
  auto asIndex = [&](const Value &v) -> int64_t {
    if (v.isBool())
      return v.asBool();
    if (!v.isInt())
      fail(loc, "slice indices must be integers or None, not " + v.typeName());
    return v.asInt();
  };
  int64_t stride = step.isNone() ? 1 : asIndex(step);
  if (stride == 0)
    fail(loc, "slice step cannot be zero");
  int64_t length = static_cast<int64_t>(size);
  auto clamp = [&](const Value &v, int64_t defaultValue) -> int64_t {
    if (v.isNone())
      return defaultValue;
    int64_t i = asIndex(v);
    if (i < 0) {
      i = i < -length ? -length : i;
      i += length;
      if (i < 0)
        i = stride < 0 ? -1 : 0;
    } else if (i >= length) {
      i = stride < 0 ? length - 1 : length;
    }
    return i;
  };
  int64_t start = clamp(lower, stride < 0 ? length - 1 : 0);
  int64_t stop = clamp(upper, stride < 0 ? -1 : length);
  std::vector<size_t> indices;
  if (stride > 0)
    for (int64_t i = start; i < stop; i += stride)
      indices.push_back(static_cast<size_t>(i));
  else
    for (int64_t i = start; i > stop; i += stride)
      indices.push_back(static_cast<size_t>(i));
  return indices;
}

Value Interpreter::evalSubscript(const SubscriptExpr &subscript) {
  Value object = eval(*subscript.object);
  if (subscript.index->kind == ExprKind::Slice) {
    const auto &slice = static_cast<const SliceExpr &>(*subscript.index);
    Value lower = slice.lower ? eval(*slice.lower) : Value();
    Value upper = slice.upper ? eval(*slice.upper) : Value();
    Value step = slice.step ? eval(*slice.step) : Value();
    if (object.isList() || object.isTuple()) {
      const auto &items = object.sequenceItems();
      std::vector<Value> result;
      for (size_t i : sliceIndices(lower, upper, step, items.size(), slice.loc))
        result.push_back(items[i]);
      return object.isList() ? Value::list(std::move(result))
                             : Value::tuple(std::move(result));
    }
    if (object.isStr()) {
      const std::string &text = object.asStr();
      std::string result;
      for (size_t i : sliceIndices(lower, upper, step, text.size(), slice.loc))
        result += text[i];
      return Value::string(std::move(result));
    }
    fail(subscript.loc, "'" + object.typeName() + "' object is not sliceable");
  }
  return getItem(object, eval(*subscript.index), subscript);
}

void Interpreter::setItem(const Value &container, const Value &index,
                          const Value &value, const SubscriptExpr &subscript) {
  noteMutation(container);
  if (container.isDict()) {
    if (index.isList() || index.isDict())
      fail(subscript.index->loc, "unhashable type: '" + index.typeName() + "'");
    container.asDict().set(index, value);
    return;
  }
  if (container.isList()) {
    if (!index.isInt() && !index.isBool())
      fail(subscript.index->loc,
           "list indices must be integers, not " + index.typeName());
    auto &items = container.asList().items;
    int64_t i = index.isBool() ? index.asBool() : index.asInt();
    if (i < 0)
      i += static_cast<int64_t>(items.size());
    if (i < 0 || i >= static_cast<int64_t>(items.size()))
      fail(subscript.loc, "list assignment index out of range");
    items[static_cast<size_t>(i)] = value;
    return;
  }
  fail(subscript.loc, "'" + container.typeName() +
                          "' object does not support item assignment");
}

Value Interpreter::getItem(const Value &object, const Value &index,
                           const SubscriptExpr &subscript) {
  if (object.isList() || object.isTuple() || object.isStr()) {
    if (!index.isInt() && !index.isBool())
      fail(subscript.index->loc,
           object.typeName() + " indices must be integers or slices, not " +
               index.typeName());
    size_t size =
        object.isStr() ? object.asStr().size() : object.sequenceItems().size();
    int64_t i =
        normalizeIndex(index.isBool() ? index.asBool() : index.asInt(), size);
    if (i < 0 || i >= static_cast<int64_t>(size))
      fail(subscript.loc, object.typeName() + " index " + index.repr() +
                              " out of range (length " + std::to_string(size) +
                              ")");
    if (object.isStr())
      return Value::string(
          std::string(1, object.asStr()[static_cast<size_t>(i)]));
    return object.sequenceItems()[static_cast<size_t>(i)];
  }
  if (object.isDict()) {
    if (const Value *found = object.asDict().find(index))
      return *found;
    std::vector<std::string> keys;
    for (const auto &entry : object.asDict().entries)
      if (entry.first.isStr())
        keys.push_back(entry.first.asStr());
    fail(subscript.loc,
         "KeyError: " + index.repr() + " is not in the dict" +
             (index.isStr() ? didYouMean(closestNames(index.asStr(), keys))
                            : std::string()));
  }
  if (object.isSymbol() && object.symbolName() == "os.environ") {
    if (!index.isStr())
      fail(subscript.index->loc, "os.environ keys must be strings");
    const char *value = std::getenv(index.asStr().c_str());
    if (!value)
      fail(subscript.loc, "environment variable '" + index.asStr() +
                              "' is not set (use os.environ.get(name, "
                              "default) for an optional one)");
    return Value::string(value);
  }
  if (object.isSymbol())
    fail(subscript.loc, "cannot subscript the symbol '" + object.symbolName() +
                            "' (generic types such as typing.List[int] are "
                            "not supported)");
  fail(subscript.loc,
       "'" + object.typeName() + "' object is not subscriptable");
}

Value Interpreter::evalCall(const CallExpr &call) {
  std::vector<Value> args;
  Kwargs kwargs;
  auto evalArguments = [&]() {
    for (const CallArgument &arg : call.args) {
      switch (arg.kind) {
      case CallArgument::Positional:
        args.push_back(eval(*arg.value));
        break;
      case CallArgument::Star: {
        std::vector<Value> spread = iterate(eval(*arg.value), arg.value->loc);
        args.insert(args.end(), spread.begin(), spread.end());
        break;
      }
      case CallArgument::Keyword:
        kwargs.emplace_back(arg.name, eval(*arg.value));
        break;
      case CallArgument::DoubleStar: {
        Value spread = eval(*arg.value);
        if (!spread.isDict())
          fail(arg.value->loc, "argument after ** must be a dict, not '" +
                                   spread.typeName() + "'");
        for (const auto &[key, value] : spread.asDict().entries) {
          if (!key.isStr())
            fail(arg.value->loc,
                 "keywords must be strings, not " + key.typeName());
          for (const auto &existing : kwargs)
            if (existing.first == key.asStr())
              fail(arg.value->loc,
                   "got multiple values for keyword argument '" + key.asStr() +
                       "'");
          kwargs.emplace_back(key.asStr(), value);
        }
        break;
      }
      }
    }
  };
  if (call.callee->kind == ExprKind::Attribute) {
    // Method calls dispatch on the object instead of making bound methods.
    const auto &attribute = static_cast<const AttributeExpr &>(*call.callee);
    Value object = eval(*attribute.object);
    if (!object.isSymbol()) {
      evalArguments();
      return callMethod(object, attribute.name, std::move(args),
                        std::move(kwargs), attribute.loc);
    }
    Value callee = extendSymbol(object, attribute.name, attribute.loc);
    evalArguments();
    return callValue(callee, std::move(args), std::move(kwargs), call.loc);
  }
  Value callee = eval(*call.callee);
  evalArguments();
  return callValue(callee, std::move(args), std::move(kwargs), call.loc);
}

Value Interpreter::callValue(const Value &callee, std::vector<Value> args,
                             Kwargs kwargs, const SourceLoc &loc) {
  switch (callee.kind()) {
  case Value::Kind::Function:
    return callFunctionValue(callee, std::move(args), std::move(kwargs), loc);
  case Value::Kind::Builtin:
    return callBuiltin(callee.builtinName(), std::move(args), std::move(kwargs),
                       loc);
  case Value::Kind::Symbol: {
    const std::string &name = callee.symbolName();
    if (isHostModuleRoot(name)) {
      checkHostModuleName(name, loc);
      if (name == "os" || name == "os.path" || name == "os.environ" ||
          name == "copy")
        fail(loc, "module '" + name + "' is not callable");
      return callBuiltin(name, std::move(args), std::move(kwargs), loc);
    }
    // Anything else imported is constructed later by whoever reads the
    // config; keep the call as data.
    auto data = std::make_shared<CallData>();
    data->callee = name;
    data->args = std::move(args);
    data->kwargs = std::move(kwargs);
    data->loc = loc;
    return Value::call(data);
  }
  case Value::Kind::Host: {
    if (!callee.asHost())
      fail(loc, "null host object is not callable");
    Expected<Value> result = callee.asHost()->call(args, kwargs);
    if (!result)
      fail(loc, result.error().message);
    return std::move(*result);
  }
  default:
    fail(loc, "'" + callee.typeName() + "' object is not callable");
  }
}

Value Interpreter::callFunctionValue(const Value &function,
                                     std::vector<Value> args, Kwargs kwargs,
                                     const SourceLoc &loc) {
  const FunctionData &data = function.asFunction();
  const FunctionDefStmt &def = *data.def;
  if (callDepth_ >= 100)
    fail(loc,
         "maximum recursion depth (100) exceeded calling '" + def.name + "'");
  auto scope = std::make_shared<Scope>();
  scope->parent = data.closure;
  if (data.closure && data.closure->registry) {
    scope->registry = data.closure->registry;
    scope->registry->add(scope);
  }
  // What the function changes belongs to its module (whoever calls it).
  TrackContainersIn tracking(scope->registry);
  const std::string what = def.name + "()";

  std::vector<bool> bound(def.params.size(), false);
  size_t nextPositional = 0;
  std::vector<Value> extraPositional;
  for (Value &arg : args) {
    while (nextPositional < def.params.size() &&
           def.params[nextPositional].kind != Parameter::Normal)
      ++nextPositional;
    if (nextPositional < def.params.size() &&
        def.params[nextPositional].kind == Parameter::Normal) {
      scope->bind(def.params[nextPositional].name, std::move(arg));
      bound[nextPositional++] = true;
    } else {
      extraPositional.push_back(std::move(arg));
    }
  }
  auto extraKwargs = std::make_shared<DictData>();
  for (auto &[name, value] : kwargs) {
    size_t i = 0;
    for (; i < def.params.size(); ++i)
      if (def.params[i].kind == Parameter::Normal && def.params[i].name == name)
        break;
    if (i == def.params.size()) {
      extraKwargs->set(name, std::move(value));
      continue;
    }
    if (bound[i])
      fail(loc, what + " got multiple values for argument '" + name + "'");
    scope->bind(name, std::move(value));
    bound[i] = true;
  }
  size_t normalCount = 0;
  for (size_t i = 0; i < def.params.size(); ++i) {
    const Parameter &param = def.params[i];
    if (param.kind == Parameter::VarArgs) {
      scope->bind(param.name, Value::tuple(std::move(extraPositional)));
      extraPositional.clear();
      bound[i] = true;
    } else if (param.kind == Parameter::VarKwargs) {
      scope->bind(param.name, Value::dict(extraKwargs));
      extraKwargs = std::make_shared<DictData>();
      bound[i] = true;
    } else {
      ++normalCount;
      if (!bound[i]) {
        if (!param.defaultValue)
          fail(loc, what + " missing required argument '" + param.name + "'");
        scope->bind(param.name, data.defaults[i]);
      }
    }
  }
  if (!extraPositional.empty())
    fail(loc, what + " takes " + std::to_string(normalCount) +
                  " positional argument" + (normalCount == 1 ? "" : "s") +
                  " but " +
                  std::to_string(normalCount + extraPositional.size()) +
                  " were given");
  if (extraKwargs->size() != 0)
    fail(loc, what + " got an unexpected keyword argument " +
                  extraKwargs->entries.front().first.repr());

  auto savedScope = scope_;
  auto savedParsed = parsed_;
  unsigned savedLoopDepth = loopDepth_;
  auto restore = [&]() {
    --callDepth_;
    scope_ = savedScope;
    parsed_ = savedParsed;
    loopDepth_ = savedLoopDepth;
  };
  scope_ = scope;
  parsed_ = data.module;
  loopDepth_ = 0;
  ++callDepth_;
  Flow flow;
  try {
    flow = execBlock(def.body);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (flow != Flow::Return)
    return Value();
  Value result = std::move(returnValue_);
  returnValue_ = Value();
  return result;
}

//===----------------------------------------------------------------------===//
// Public entry points
//===----------------------------------------------------------------------===//

/// Runs `body`, turning every internal failure into a Diagnostic.
template <typename Body> static auto guarded(Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const ConfigError &error) {
    return error.diagnostic;
  } catch (const std::bad_alloc &) {
    return Diagnostic("out of memory while evaluating the config");
  } catch (const std::exception &error) {
    return Diagnostic(std::string("internal error: ") + error.what());
  }
}

Expected<std::shared_ptr<Module>> loadConfigSource(const std::string &source,
                                                   const std::string &fileName,
                                                   const EvalOptions &options) {
  return guarded([&]() -> Expected<std::shared_ptr<Module>> {
    auto file = std::make_shared<SourceFile>(fileName, source);
    std::shared_ptr<ParsedModule> parsed = parseModule(file);
    std::shared_ptr<Module> module = Interpreter::newModule(fileName, options);
    Interpreter interpreter(options, module.get());
    interpreter.runModule(parsed);
    return module;
  });
}

Expected<std::shared_ptr<Module>> loadConfigFile(const std::string &path,
                                                 const EvalOptions &options) {
  auto refuse = [&](const std::string &message) {
    Diagnostic error(message);
    error.file = path;
    return error;
  };
  // Directories "open" as empty streams and devices never end: refuse both
  // before reading. Pipes (`<(...)`) are read, up to the size limit.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode))
      return refuse("is a directory, not a config file");
    if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode))
      return refuse("is a device, not a config file");
    if (S_ISREG(info.st_mode) &&
        static_cast<uint64_t>(info.st_size) > kMaxConfigFileBytes)
      return refuse("config file is " + std::to_string(info.st_size) +
                    " bytes; configs larger than " +
                    std::to_string(kMaxConfigFileBytes >> 20) +
                    " MiB are refused (is this really a config?)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return refuse("cannot open config file");
  std::string text;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes)
      return refuse("config input exceeds " +
                    std::to_string(kMaxConfigFileBytes >> 20) +
                    " MiB; refused (is this really a config?)");
  }
  if (in.bad())
    return refuse("cannot read config file");
  return loadConfigSource(text, path, options);
}

Expected<std::shared_ptr<Module>>
loadConfig(const std::string &path, const std::vector<std::string> &overrides,
           const EvalOptions &options) {
  Expected<std::shared_ptr<Module>> module = loadConfigFile(path, options);
  if (!module)
    return module;
  for (const std::string &override : overrides) {
    Status status = applyOverride(**module, override);
    if (!status)
      return status.error();
  }
  return module;
}

Expected<Value> callFunction(const Value &function,
                             const std::vector<Value> &args,
                             const Kwargs &kwargs, const EvalOptions &options) {
  return guarded([&]() -> Expected<Value> {
    Interpreter interpreter(options);
    SourceLoc loc;
    if (function.isFunction())
      loc = function.asFunction().def->loc;
    return interpreter.callValue(function, args, kwargs, loc);
  });
}

Expected<Value> evaluateExpression(const std::string &text,
                                   const std::string &fileName,
                                   const Module *module) {
  return guarded([&]() -> Expected<Value> {
    auto file = std::make_shared<SourceFile>(fileName, text);
    ExprPtr expr = parseStandaloneExpression(file);
    EvalOptions options = module ? module->options() : EvalOptions();
    Interpreter interpreter(options);
    std::shared_ptr<Scope> scope =
        module ? module->globals() : std::make_shared<Scope>();
    return interpreter.evaluateIn(*expr, scope);
  });
}

} // namespace hat::config
