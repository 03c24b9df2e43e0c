//===- Config.h - Loading and evaluating HAT config files -------*- C++ -*-===//
//
// A HAT config is a Python file in a small subset of Python (see
// docs/config.md). Loading one parses and evaluates it into a Module: its
// module-level variables in definition order. Functions defined by the config
// stay callable with runtime values through callFunction().
//
//===----------------------------------------------------------------------===//
#ifndef HAT_CONFIG_CONFIG_H
#define HAT_CONFIG_CONFIG_H

#include "hat/Config/Diagnostic.h"
#include "hat/Config/Value.h"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace hat::config {

/// Bounds that keep hostile or mistaken configs (and the fuzzer) from running
/// forever or exhausting memory; exceeding one is an ordinary error.
struct EvalOptions {
  /// Statements and expressions evaluated per load or per function call.
  uint64_t maxSteps = 50'000'000;
  /// Longest list/tuple/string an operation may create.
  size_t maxSequenceLength = 10'000'000;
  /// Where `print(...)` goes; by default stderr.
  std::function<void(const std::string &)> print;
};

struct Scope;

/// What a module's code created or changed, held weakly, so that ~Module
/// can free the reference cycles among it: every scope (its globals and the
/// call scopes of its functions) and every container its code changed
/// (item assignment, append, update, `--set`, a merge; at load, in `--set`
/// expressions and in later calls of its functions), including containers
/// a caller made and passed in. A container cannot hold itself when it is
/// made, so every cycle of containers was closed by such a change.
///
/// Two kinds of cycles arise. A function value holds its defining scope and
/// that scope holds the function, so every module-level `def` (and every
/// closure) is a cycle; ~Module unbinds every scope's variables
/// (clearAll). Containers can also hold themselves, as in Python
/// (`a = []; a.append(a)`, `d['self'] = d`, through calls and function
/// defaults); collectCycles() finds those that nothing outside the cycles
/// refers to and empties them. It runs in ~Module and, while a module's
/// code keeps changing containers, whenever their number has doubled, so
/// a function called many times does not pile up garbage cycles.
///
/// A module's code runs on one thread at a time (the registry is not
/// locked).
struct ScopeRegistry {
  std::vector<std::weak_ptr<Scope>> scopes;
  /// Containers changed by the module's code (one entry each after a
  /// collection).
  std::vector<std::pair<std::weak_ptr<void>, Value::Kind>> containers;
  /// containers.size() at which the next collectCycles() runs.
  size_t nextCollection = 4096;
  void add(const std::shared_ptr<Scope> &scope);
  /// Unbinds every variable of every live scope.
  void clearAll();
  /// Empties every container and scope reachable from this registry's that
  /// is referenced only from other such objects in unreachable cycles
  /// (trial deletion, as CPython's collector); never touches what any
  /// value outside them still refers to. Returns how many were freed.
  size_t collectCycles();
};

/// Variables of one scope (module or function call).
struct Scope {
  std::unordered_map<std::string, Value> variables;
  /// Names in the order they were first bound, as Python's globals().
  std::vector<std::string> order;
  std::shared_ptr<Scope> parent;
  /// The module this scope belongs to (null outside a module).
  std::shared_ptr<ScopeRegistry> registry;

  Value *lookup(const std::string &name);
  void bind(const std::string &name, Value value);
  bool unbind(const std::string &name);
};

/// An evaluated config file.
class Module {
public:
  Module();
  /// Unbinds the variables of every scope the module created (breaking the
  /// cycles between functions and their scopes; a function value kept
  /// after its module is gone no longer sees the module's globals), then
  /// frees the module's containers that only hold each other
  /// (ScopeRegistry::collectCycles). Values the caller still holds stay
  /// intact.
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  const std::string &path() const { return path_; }
  /// The module-level variable `name`, or null.
  const Value *get(const std::string &name) const;
  Value *get(const std::string &name);
  /// Binds (or rebinds) a module-level variable.
  void set(const std::string &name, Value value);
  /// The config's own variables in definition order: everything bound at
  /// module level except names bound by `import`/`from ... import`.
  std::vector<std::pair<std::string, Value>> variables() const;
  /// Whether `name` is currently bound by an import statement.
  bool isImport(const std::string &name) const {
    return importNames_.count(name) != 0;
  }
  const std::shared_ptr<Scope> &globals() const { return globals_; }
  const EvalOptions &options() const { return options_; }

private:
  friend class Interpreter;
  std::string path_;
  std::shared_ptr<Scope> globals_;
  std::unordered_set<std::string> importNames_;
  EvalOptions options_;
};

/// Parses and evaluates a config file.
Expected<std::shared_ptr<Module>>
loadConfigFile(const std::string &path, const EvalOptions &options = {});
/// Parses and evaluates config source text; `fileName` names it in errors.
Expected<std::shared_ptr<Module>>
loadConfigSource(const std::string &source, const std::string &fileName,
                 const EvalOptions &options = {});
/// loadConfigFile() followed by applyOverride() of each `path=value` in order
/// (the `--set` options of every tool).
Expected<std::shared_ptr<Module>>
loadConfig(const std::string &path, const std::vector<std::string> &overrides,
           const EvalOptions &options = {});

/// Merges the variables of `overlay`, a config file evaluated on its own
/// (such as the qconfig fragment hat-quant-analysis --topk writes), into
/// `module`: where both hold a dict, keys merge recursively; everything else
/// is replaced by the overlay's value. Imports of the overlay are skipped.
/// Fails, naming the overlay's file, for dicts nested too deeply to merge
/// (dicts that contain themselves); `module` is then partly merged.
Status mergeModule(Module &module, const Module &overlay);
/// loadConfigFile(), then every file of `merges` loaded and merged in order
/// (mergeModule; the `--merge` option of hat-train), then the overrides.
Expected<std::shared_ptr<Module>> loadConfigWithMerges(
    const std::string &path, const std::vector<std::string> &merges,
    const std::vector<std::string> &overrides, const EvalOptions &options = {});

/// Calls a config function (or builtin) with runtime values, e.g. the
/// engine calling `loss_collector(outputs)`.
Expected<Value> callFunction(const Value &function,
                             const std::vector<Value> &args,
                             const Kwargs &kwargs = {},
                             const EvalOptions &options = {});

/// Parses `text` as one Python expression and evaluates it. Names resolve in
/// `module` when given (so `March.NASH_E` or `batch_size_per_gpu` work),
/// otherwise only literals and builtins are available.
Expected<Value> evaluateExpression(const std::string &text,
                                   const std::string &fileName,
                                   const Module *module = nullptr);

/// Applies one command-line override `a.b.0.c=VALUE`: a dotted path through
/// dicts (keys), lists and tuples (indices, negative from the end) of the
/// module, and a Python expression for the value. Every component of the
/// path must exist, except that the last one may add a key to a dict.
Status applyOverride(Module &module, const std::string &assignment);

/// Python `json.dumps(value, indent=indent)` with the config conventions:
/// symbols as their dotted names, tuples as arrays, functions as
/// "<function NAME>", calls as {"type": callee, "args": [...], kwargs...}.
Expected<std::string> toJson(const Value &value, int indent = 2);
/// The module's variables() as one JSON object.
Expected<std::string> moduleToJson(const Module &module, int indent = 2);

} // namespace hat::config

#endif // HAT_CONFIG_CONFIG_H
