//===- Value.h - Values of the HAT config language --------------*- C++ -*-===//
//
// A Value is what a config expression evaluates to. Lists, dicts and tuples
// are shared by reference like Python objects: plain assignment aliases,
// `copy.deepcopy` (Value::deepCopy) copies.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_CONFIG_VALUE_H
#define HAT_CONFIG_VALUE_H

#include "hat/Config/Diagnostic.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hat::config {

class Value;
struct ListData;
struct TupleData;
struct DictData;
struct CallData;
struct FunctionData;
class HostObject;

/// Keyword arguments in call order.
using Kwargs = std::vector<std::pair<std::string, Value>>;

class Value {
public:
  enum class Kind {
    None,
    Bool,
    Int,
    Float,
    Str,
    List,
    Tuple,
    Dict,
    /// A dotted name such as `torch.optim.SGD` or `March.NASH_E`: an imported
    /// module, class or enum member the config refers to but does not define.
    Symbol,
    /// A builtin function of the language (`len`, `dict`, `os.path.join`).
    Builtin,
    /// A `def` of the config, callable later through callFunction().
    Function,
    /// A call of a symbol, such as `torch.randn((1, 3, 512, 512))`, kept
    /// unevaluated so that the engine can build it (or read its arguments).
    Call,
    /// A runtime object of the engine (a metric, a tensor) passed into a
    /// config function.
    Host,
  };

  Value() = default; // None

  static Value none() { return Value(); }
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value real(double v);
  static Value string(std::string v);
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items = {});
  static Value dict();
  static Value dict(std::shared_ptr<DictData> data);
  static Value symbol(std::string dottedName);
  static Value builtin(std::string name);
  static Value function(std::shared_ptr<FunctionData> data);
  static Value call(std::shared_ptr<CallData> data);
  static Value host(std::shared_ptr<HostObject> object);

  Kind kind() const { return static_cast<Kind>(storage_.index()); }
  bool isNone() const { return kind() == Kind::None; }
  bool isBool() const { return kind() == Kind::Bool; }
  bool isInt() const { return kind() == Kind::Int; }
  bool isFloat() const { return kind() == Kind::Float; }
  /// Int, Float or Bool (Python's bool is an int).
  bool isNumber() const { return isInt() || isFloat() || isBool(); }
  bool isStr() const { return kind() == Kind::Str; }
  bool isList() const { return kind() == Kind::List; }
  bool isTuple() const { return kind() == Kind::Tuple; }
  bool isDict() const { return kind() == Kind::Dict; }
  bool isSymbol() const { return kind() == Kind::Symbol; }
  bool isBuiltin() const { return kind() == Kind::Builtin; }
  bool isFunction() const { return kind() == Kind::Function; }
  bool isCall() const { return kind() == Kind::Call; }
  bool isHost() const { return kind() == Kind::Host; }

  bool asBool() const { return std::get<1>(storage_); }
  int64_t asInt() const { return std::get<2>(storage_); }
  double asFloat() const { return std::get<3>(storage_); }
  /// Int, Bool or Float as a double.
  double asNumber() const;
  const std::string &asStr() const { return std::get<4>(storage_); }
  ListData &asList() const { return *std::get<5>(storage_); }
  TupleData &asTuple() const { return *std::get<6>(storage_); }
  DictData &asDict() const { return *std::get<7>(storage_); }
  const std::shared_ptr<DictData> &dictPtr() const {
    return std::get<7>(storage_);
  }
  /// The dotted name of a Symbol.
  const std::string &symbolName() const { return std::get<8>(storage_).name; }
  const std::string &builtinName() const { return std::get<9>(storage_).name; }
  FunctionData &asFunction() const { return *std::get<10>(storage_); }
  const std::shared_ptr<FunctionData> &functionPtr() const {
    return std::get<10>(storage_);
  }
  CallData &asCall() const { return *std::get<11>(storage_); }
  const std::shared_ptr<HostObject> &asHost() const {
    return std::get<12>(storage_);
  }

  /// Items of a List or a Tuple.
  std::vector<Value> &sequenceItems() const;

  /// Python's type name: "int", "dict", "symbol", "function", ...
  std::string typeName() const;
  /// Python truthiness.
  bool truthy() const;
  /// Identity for lists/dicts/tuples/functions/hosts, value otherwise.
  bool sameObject(const Value &other) const;

  /// Python `repr()`; nested containers are printed as `[...]` when they
  /// contain themselves.
  std::string repr() const;
  /// Python `str()`: strings without quotes, everything else as repr().
  std::string str() const;

  /// `copy.deepcopy`: copies lists, tuples, dicts and call values (keeping
  /// shared and cyclic structure shared within the copy); symbols,
  /// functions and host objects are shared. Fails only for containers
  /// nested more than 1000 levels deep.
  Expected<Value> deepCopy() const;
  /// `copy.copy` / `.copy()`: a new outer container with the same items.
  Value shallowCopy() const;

private:
  /// Reads the shared pointers (identity and reference counts) of
  /// containers to find cycles no reference holds from outside.
  friend class CycleCollector;
  struct SymbolName {
    std::string name;
  };
  struct BuiltinName {
    std::string name;
  };
  std::variant<std::monostate, bool, int64_t, double, std::string,
               std::shared_ptr<ListData>, std::shared_ptr<TupleData>,
               std::shared_ptr<DictData>, SymbolName, BuiltinName,
               std::shared_ptr<FunctionData>, std::shared_ptr<CallData>,
               std::shared_ptr<HostObject>>
      storage_;
};

/// Python `==` (1 == 1.0 == True, containers element-wise). Symbols are
/// equal when their dotted names are.
bool valuesEqual(const Value &a, const Value &b);

/// Hands the children of a container that is being destroyed to a
/// per-thread worklist, so that destroying `a = [a]` nested 200,000 deep
/// takes constant stack instead of one frame per level.
void releaseChildrenIteratively(std::vector<Value> &children);

// The containers declare their copies and moves: a user-declared destructor
// would otherwise suppress the moves and turn each into a copy of the items.
// (Defaulted on first declaration, so they stay aggregates in C++17.)
struct ListData {
  std::vector<Value> items;
  ListData() = default;
  ListData(const ListData &) = default;
  ListData(ListData &&) = default;
  ListData &operator=(const ListData &) = default;
  ListData &operator=(ListData &&) = default;
  ~ListData() { releaseChildrenIteratively(items); }
};

struct TupleData {
  std::vector<Value> items;
  TupleData() = default;
  TupleData(const TupleData &) = default;
  TupleData(TupleData &&) = default;
  TupleData &operator=(const TupleData &) = default;
  TupleData &operator=(TupleData &&) = default;
  ~TupleData() { releaseChildrenIteratively(items); }
};

/// A dict that keeps insertion order, with Python key equality. Dicts made
/// by the config remember where (`dict(...)` or `{`), so that a builder can
/// point its errors at the config line that wrote the dict.
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  SourceLoc loc;

  DictData() = default;
  DictData(const DictData &) = default;
  DictData(DictData &&) = default;
  DictData &operator=(const DictData &) = default;
  DictData &operator=(DictData &&) = default;
  ~DictData();

  Value *find(const Value &key);
  const Value *find(const Value &key) const;
  Value *find(const std::string &key);
  const Value *find(const std::string &key) const;
  /// Inserts or replaces, keeping the position of an existing key.
  void set(Value key, Value value);
  void set(const std::string &key, Value value) {
    set(Value::string(key), std::move(value));
  }
  bool erase(const Value &key);
  size_t size() const { return entries.size(); }
};

/// `callee(args..., kwargs...)` for a symbol callee, kept as data.
struct CallData {
  std::string callee; ///< Dotted name, e.g. "torch.randn".
  std::vector<Value> args;
  Kwargs kwargs;
  SourceLoc loc;
  CallData() = default;
  CallData(const CallData &) = default;
  CallData(CallData &&) = default;
  CallData &operator=(const CallData &) = default;
  CallData &operator=(CallData &&) = default;
  ~CallData();
};

/// A `def` of a config; opaque outside the library. Use functionName() and
/// callFunction() (Config.h).
std::string functionName(const Value &function);

/// The bridge through which config functions use runtime objects of the
/// engine. Errors are returned as Diagnostics without location; the
/// interpreter adds the location of the config expression that failed.
class HostObject {
public:
  virtual ~HostObject();
  /// The name shown in errors and dumps, e.g. "Tensor".
  virtual std::string typeName() const = 0;
  /// `obj.name`
  virtual Expected<Value> getAttribute(const std::string &name);
  /// `obj.name(args..., kwargs...)`
  virtual Expected<Value> callMethod(const std::string &name,
                                     const std::vector<Value> &args,
                                     const Kwargs &kwargs);
  /// `obj(args...)`
  virtual Expected<Value> call(const std::vector<Value> &args,
                               const Kwargs &kwargs);
  /// `for x in obj`
  virtual Expected<std::vector<Value>> iterate();
};

} // namespace hat::config

#endif // HAT_CONFIG_VALUE_H
