//===- Cycles.cpp - Freeing reference cycles of config values -------------===//
//
// Config values are reference counted (std::shared_ptr), and the language,
// like Python, lets a container hold itself: `a = []; a.append(a)`, a dict
// stored under one of its own keys, a call value or a function default
// that reaches back to its container. Reference counting never frees such
// a cycle, so without a collector every config that builds one leaks it
// (LeakSanitizer reports it at exit).
//
// The collector is CPython's trial deletion, started from the scopes a
// module's code created and the containers it changed (ScopeRegistry):
// every cycle passes through one of them, because a container cannot hold
// itself when it is made. For every object reachable from them, the
// references other such objects hold are subtracted from its reference
// count. What is left over comes from outside (a Value on the C++ stack, a
// tool's copy of a config value, a scope the interpreter is running in):
// those objects and everything they reach are live. The rest can be reached
// only through each other, so nothing can use them again; they are emptied,
// which breaks the cycles and lets the reference counts free them.
//
// This is exact: it frees nothing that anyone still refers to, so it can
// run while a module's code is running (a reference the interpreter holds
// counts as one from outside), and a value a caller keeps after ~Module
// stays intact. Containers made and filled by C++ code (a tool, the
// engine) are not recorded, but are traversed when a recorded one reaches
// them; config code changing them records them.
//
//===----------------------------------------------------------------------===//

#include "AST.h"
#include "Internal.h"

#include <algorithm>
#include <unordered_map>

namespace hat::config {

namespace {
/// The registry of the module whose code runs on this thread.
thread_local ScopeRegistry *activeRegistry = nullptr;
/// Fewest tracked containers at which a collection runs while a module's
/// code keeps creating them; ~Module always collects.
constexpr size_t kMinCollectionThreshold = 4096;
} // namespace

TrackContainersIn::TrackContainersIn(std::shared_ptr<ScopeRegistry> registry)
    : registry_(std::move(registry)), previous_(activeRegistry) {
  if (registry_)
    activeRegistry = registry_.get();
}

TrackContainersIn::~TrackContainersIn() { activeRegistry = previous_; }

/// The friend of Value that reads its shared pointers.
class CycleCollector {
public:
  enum class NodeKind { List, Tuple, Dict, Call, Function, Scope };

  /// The object a container value refers to (shared), or null for values
  /// that are not containers.
  static std::shared_ptr<void> ownerOf(const Value &value) {
    switch (value.kind()) {
    case Value::Kind::List:
      return std::get<5>(value.storage_);
    case Value::Kind::Tuple:
      return std::get<6>(value.storage_);
    case Value::Kind::Dict:
      return std::get<7>(value.storage_);
    case Value::Kind::Function:
      return std::get<10>(value.storage_);
    case Value::Kind::Call:
      return std::get<11>(value.storage_);
    default:
      return nullptr;
    }
  }

  static const void *identityOf(const Value &value) {
    switch (value.kind()) {
    case Value::Kind::List:
      return std::get<5>(value.storage_).get();
    case Value::Kind::Tuple:
      return std::get<6>(value.storage_).get();
    case Value::Kind::Dict:
      return std::get<7>(value.storage_).get();
    case Value::Kind::Function:
      return std::get<10>(value.storage_).get();
    case Value::Kind::Call:
      return std::get<11>(value.storage_).get();
    default:
      return nullptr;
    }
  }

  static NodeKind nodeKindOf(Value::Kind kind) {
    switch (kind) {
    case Value::Kind::List:
      return NodeKind::List;
    case Value::Kind::Tuple:
      return NodeKind::Tuple;
    case Value::Kind::Dict:
      return NodeKind::Dict;
    case Value::Kind::Function:
      return NodeKind::Function;
    default:
      return NodeKind::Call;
    }
  }

  explicit CycleCollector(ScopeRegistry &registry) : registry_(registry) {}

  size_t run() {
    collectNodes();
    countOutsideReferences();
    markLive();
    return freeGarbage();
  }

private:
  struct Node {
    std::shared_ptr<void> object;
    NodeKind kind;
    /// References from outside the graph (after trial deletion).
    long outside = 0;
    bool live = false;
  };

  void addNode(std::shared_ptr<void> object, NodeKind kind) {
    const void *identity = object.get();
    if (!identity || index_.count(identity))
      return;
    index_.emplace(identity, nodes_.size());
    nodes_.push_back(Node{std::move(object), kind});
  }

  /// Calls onValue(const Value &) for every value `node` holds and
  /// onScope(const std::shared_ptr<Scope> &) for every scope it holds.
  template <typename OnValue, typename OnScope>
  static void forEachChild(const Node &node, OnValue onValue, OnScope onScope) {
    switch (node.kind) {
    case NodeKind::List:
      for (const Value &item :
           static_cast<ListData *>(node.object.get())->items)
        onValue(item);
      return;
    case NodeKind::Tuple:
      for (const Value &item :
           static_cast<TupleData *>(node.object.get())->items)
        onValue(item);
      return;
    case NodeKind::Dict:
      for (const auto &[key, item] :
           static_cast<DictData *>(node.object.get())->entries) {
        onValue(key);
        onValue(item);
      }
      return;
    case NodeKind::Call: {
      const CallData &call = *static_cast<CallData *>(node.object.get());
      for (const Value &arg : call.args)
        onValue(arg);
      for (const auto &[name, arg] : call.kwargs)
        onValue(arg);
      return;
    }
    case NodeKind::Function: {
      const FunctionData &function =
          *static_cast<FunctionData *>(node.object.get());
      for (const Value &value : function.defaults)
        onValue(value);
      if (function.closure)
        onScope(function.closure);
      return;
    }
    case NodeKind::Scope: {
      const Scope &scope = *static_cast<Scope *>(node.object.get());
      for (const auto &[name, value] : scope.variables)
        onValue(value);
      if (scope.parent)
        onScope(scope.parent);
      return;
    }
    }
  }

  /// The registry's live objects and everything they reach, breadth first
  /// (no recursion: `a = [a]` nested 200,000 deep is an ordinary input).
  void collectNodes() {
    auto &containers = registry_.containers;
    // Keep one entry per live container (a list appended to in a loop is
    // noted once per append).
    std::vector<std::pair<std::weak_ptr<void>, Value::Kind>> unique;
    for (auto &[weak, kind] : containers) {
      std::shared_ptr<void> object = weak.lock();
      if (!object || index_.count(object.get()))
        continue;
      addNode(std::move(object), nodeKindOf(kind));
      unique.emplace_back(std::move(weak), kind);
    }
    containers.swap(unique);
    auto &scopes = registry_.scopes;
    scopes.erase(std::remove_if(scopes.begin(), scopes.end(),
                                [](const std::weak_ptr<Scope> &weak) {
                                  return weak.expired();
                                }),
                 scopes.end());
    for (const std::weak_ptr<Scope> &weak : scopes)
      if (std::shared_ptr<Scope> scope = weak.lock())
        addNode(std::move(scope), NodeKind::Scope);
    for (size_t i = 0; i < nodes_.size(); ++i)
      forEachChild(
          nodes_[i],
          [&](const Value &value) {
            if (const void *identity = identityOf(value);
                identity && !index_.count(identity))
              addNode(ownerOf(value), nodeKindOf(value.kind()));
          },
          [&](const std::shared_ptr<Scope> &scope) {
            addNode(scope, NodeKind::Scope);
          });
  }

  /// Trial deletion: each node's reference count less the one this
  /// collector holds and less the references of other nodes.
  void countOutsideReferences() {
    for (Node &node : nodes_)
      node.outside = node.object.use_count() - 1;
    for (const Node &node : nodes_)
      forEachChild(
          node,
          [&](const Value &value) {
            if (const void *identity = identityOf(value)) {
              auto found = index_.find(identity);
              if (found != index_.end())
                --nodes_[found->second].outside;
            }
          },
          [&](const std::shared_ptr<Scope> &scope) {
            auto found = index_.find(scope.get());
            if (found != index_.end())
              --nodes_[found->second].outside;
          });
  }

  /// Everything reachable from a node referenced from outside is live.
  void markLive() {
    std::vector<size_t> pending;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].outside > 0) {
        nodes_[i].live = true;
        pending.push_back(i);
      }
    auto reach = [&](const void *identity) {
      auto found = index_.find(identity);
      if (found != index_.end() && !nodes_[found->second].live) {
        nodes_[found->second].live = true;
        pending.push_back(found->second);
      }
    };
    while (!pending.empty()) {
      size_t i = pending.back();
      pending.pop_back();
      forEachChild(
          nodes_[i],
          [&](const Value &value) {
            if (const void *identity = identityOf(value))
              reach(identity);
          },
          [&](const std::shared_ptr<Scope> &scope) { reach(scope.get()); });
    }
  }

  /// Empties every node that is not live. What they held is released only
  /// after all of them are emptied, iteratively, so that freeing a long
  /// chain takes constant stack.
  size_t freeGarbage() {
    std::vector<Value> released;
    std::vector<std::shared_ptr<Scope>> releasedScopes;
    size_t freed = 0;
    for (Node &node : nodes_) {
      if (node.live)
        continue;
      ++freed;
      switch (node.kind) {
      case NodeKind::List:
      case NodeKind::Tuple: {
        std::vector<Value> &items =
            node.kind == NodeKind::List
                ? static_cast<ListData *>(node.object.get())->items
                : static_cast<TupleData *>(node.object.get())->items;
        for (Value &item : items)
          released.push_back(std::move(item));
        items.clear();
        break;
      }
      case NodeKind::Dict: {
        auto &entries = static_cast<DictData *>(node.object.get())->entries;
        for (auto &[key, item] : entries) {
          released.push_back(std::move(key));
          released.push_back(std::move(item));
        }
        entries.clear();
        break;
      }
      case NodeKind::Call: {
        CallData &call = *static_cast<CallData *>(node.object.get());
        for (Value &arg : call.args)
          released.push_back(std::move(arg));
        for (auto &[name, arg] : call.kwargs)
          released.push_back(std::move(arg));
        call.args.clear();
        call.kwargs.clear();
        break;
      }
      case NodeKind::Function: {
        FunctionData &function =
            *static_cast<FunctionData *>(node.object.get());
        for (Value &value : function.defaults)
          released.push_back(std::move(value));
        function.defaults.clear();
        releasedScopes.push_back(std::move(function.closure));
        break;
      }
      case NodeKind::Scope: {
        Scope &scope = *static_cast<Scope *>(node.object.get());
        for (auto &[name, value] : scope.variables)
          released.push_back(std::move(value));
        scope.variables.clear();
        scope.order.clear();
        releasedScopes.push_back(std::move(scope.parent));
        break;
      }
      }
    }
    index_.clear();
    nodes_.clear();
    releaseChildrenIteratively(released);
    releasedScopes.clear();
    return freed;
  }

  ScopeRegistry &registry_;
  std::unordered_map<const void *, size_t> index_;
  std::vector<Node> nodes_;
};

size_t ScopeRegistry::collectCycles() {
  size_t freed = CycleCollector(*this).run();
  nextCollection = std::max(kMinCollectionThreshold, 2 * containers.size());
  return freed;
}

void noteMutation(const Value &container) {
  ScopeRegistry *registry = activeRegistry;
  if (!registry)
    return;
  std::shared_ptr<void> owner = CycleCollector::ownerOf(container);
  if (!owner)
    return;
  auto &containers = registry->containers;
  // The same container changed again right away (appends in a loop) needs
  // no second entry; other repeats are merged by the next collection.
  if (!containers.empty() && !containers.back().first.owner_before(owner) &&
      !owner.owner_before(containers.back().first))
    return;
  containers.emplace_back(std::move(owner), container.kind());
  if (containers.size() >= registry->nextCollection)
    registry->collectCycles();
}

} // namespace hat::config
