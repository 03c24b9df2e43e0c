//===- CycleTests.cpp - Containers that contain themselves ----------------===//
//
// A config may build reference cycles (`a = []; a.append(a)`). Printing,
// JSON, comparisons and merges must terminate with an answer or a clear
// error, and the cycles must be freed (LeakSanitizer checks the sanitized
// build of these tests). A host object placed inside a cycle counts its
// destruction, which shows when the cycle was freed.
//
//===----------------------------------------------------------------------===//

#include "TestHelpers.h"

using namespace hat::config;
using namespace hat::config::testing;

namespace {

/// Counts its destructions in `*destroyed`.
class Probe : public HostObject {
public:
  explicit Probe(int *destroyed) : destroyed_(destroyed) {}
  ~Probe() override { ++*destroyed_; }
  std::string typeName() const override { return "Probe"; }

private:
  int *destroyed_;
};

/// Calls the config function `name` of `module` with a fresh Probe.
Value callWithProbe(Module &module, const std::string &name, int *destroyed,
                    std::vector<Value> extra = {}) {
  const Value *function = module.get(name);
  EXPECT_TRUE(function && function->isFunction()) << name;
  if (!function)
    return Value();
  std::vector<Value> args{Value::host(std::make_shared<Probe>(destroyed))};
  for (Value &value : extra)
    args.push_back(std::move(value));
  Expected<Value> result = callFunction(*function, args);
  EXPECT_TRUE(result.ok()) << (result ? "" : result.error().str());
  return result ? *result : Value();
}

// Each function leaves a garbage cycle holding the probe: through a list,
// a dict, a tuple inside a list, a call value's arguments, a function's
// default, and a closure's scope.
const char *const kCycleMakers = R"(
import copy
from torch.nn import Conv2d
def via_list(h):
    a = [h]
    a.append(a)
def via_dict(h):
    d = {'probe': h}
    d['self'] = d
def via_tuple(h):
    a = []
    a.append((h, a))
def via_call(h):
    args = [h]
    c = Conv2d(args)
    args.append(c)
def via_default(h):
    a = [h]
    def f(x=a):
        return x
    a.append(f)
def via_closure(h):
    def f():
        return h
    f_list = [f]
    return None
def via_deepcopy(h):
    return len(copy.deepcopy(make_cycle(h)))
def make_cycle(h):
    a = [h]
    a.append(a)
    return a
)";

} // namespace

TEST(Cycles, ReprAndJsonOfSelfContainingContainers) {
  std::shared_ptr<Module> m = load("a = [1]\na.append(a)\n"
                                   "d = {'k': 1}\nd['self'] = d\n"
                                   "t = ([],)\nt[0].append(t)\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("a")->repr(), "[1, [...]]");
  EXPECT_EQ(m->get("d")->repr(), "{'k': 1, 'self': {...}}");
  EXPECT_EQ(m->get("t")->repr(), "([(...)],)");
  for (const char *name : {"a", "d", "t"}) {
    Expected<std::string> json = toJson(*m->get(name));
    ASSERT_FALSE(json.ok()) << name;
    EXPECT_NE(json.error().message.find("circular reference"),
              std::string::npos)
        << json.error().message;
  }
  Expected<std::string> json = moduleToJson(*m);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.error().file, "test.py");
}

TEST(Cycles, SharedButAcyclicValuesStillPrintAsJson) {
  // The same list twice is not a cycle.
  std::shared_ptr<Module> m = load("x = [1]\ny = [x, x, {'a': x}]\n");
  ASSERT_TRUE(m);
  Expected<std::string> json = toJson(*m->get("y"), -1);
  ASSERT_TRUE(json.ok()) << json.error().str();
  EXPECT_EQ(*json, R"([[1],[1],{"a":[1]}])");
}

TEST(Cycles, ComparingSelfContainingListsTerminates) {
  std::shared_ptr<Module> m = load("a = []\na.append(a)\nb = []\nb.append(b)\n"
                                   "same = a == a\nother = a == [1]\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("same")->repr(), "True");
  EXPECT_EQ(m->get("other")->repr(), "False");
  // Python raises RecursionError for ordering two such lists; this used to
  // recurse until the stack overflowed.
  Diagnostic error = errorOf("a = [1]\na.append(a)\nb = [1]\nb.append(b)\n"
                             "c = a < b\n");
  EXPECT_EQ(error.line, 5u);
  EXPECT_NE(error.message.find("contains itself"), std::string::npos)
      << error.message;
  error = errorOf("a = [1]\na.append(a)\nb = [1]\nb.append(b)\n"
                  "c = sorted([a, b])\n");
  EXPECT_NE(error.message.find("contains itself"), std::string::npos)
      << error.message;
}

TEST(Cycles, MergingSelfContainingDictsIsAnError) {
  std::shared_ptr<Module> base = load("a = {'a': 1}\na['a'] = a\n");
  Expected<std::shared_ptr<Module>> overlay =
      loadConfigSource("a = {'a': 1}\na['a'] = a\n", "overlay.py");
  ASSERT_TRUE(base && overlay.ok());
  Status merged = mergeModule(*base, **overlay);
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.error().file, "overlay.py");
  EXPECT_NE(merged.error().message.find("contains itself"), std::string::npos)
      << merged.error().message;
}

TEST(Cycles, GarbageCyclesAreFreedByTheCollector) {
  std::shared_ptr<Module> m = load(kCycleMakers);
  ASSERT_TRUE(m);
  std::shared_ptr<ScopeRegistry> registry = m->globals()->registry;
  ASSERT_TRUE(registry);
  for (const char *maker : {"via_list", "via_dict", "via_tuple", "via_call",
                            "via_default", "via_closure", "via_deepcopy"}) {
    int destroyed = 0;
    (void)callWithProbe(*m, maker, &destroyed);
    // Reference counting alone cannot free it: nothing outside the cycle
    // refers to it any more, but it holds itself.
    EXPECT_EQ(destroyed, 0) << maker;
    EXPECT_GT(registry->collectCycles(), 0u) << maker;
    EXPECT_EQ(destroyed, 1) << maker;
  }
}

TEST(Cycles, CallersContainersClosedIntoCyclesAreFreed) {
  // Containers made by the caller (here: the test), passed in, and made
  // to contain themselves by the config's code.
  std::shared_ptr<Module> m = load("def close(h, d):\n"
                                   "    d['probe'] = h\n"
                                   "    d['self'] = d\n"
                                   "def close_inner(h, d):\n"
                                   "    d['inner']['probe'] = h\n"
                                   "    d['inner']['self'] = d['inner']\n"
                                   "def append_self(h, l):\n"
                                   "    l.append(h)\n"
                                   "    l.append(l)\n");
  ASSERT_TRUE(m);
  int destroyed = 0;
  (void)callWithProbe(*m, "close", &destroyed, {Value::dict()});
  Value outer = Value::dict();
  outer.asDict().set("inner", Value::dict());
  (void)callWithProbe(*m, "close_inner", &destroyed, {outer});
  outer = Value(); // `outer` is freed; its inner dict holds itself
  (void)callWithProbe(*m, "append_self", &destroyed, {Value::list()});
  EXPECT_EQ(destroyed, 0);
  m->globals()->registry->collectCycles();
  EXPECT_EQ(destroyed, 3);
}

TEST(Cycles, OverridesThatCloseCyclesAreFreed) {
  int destroyed = 0;
  {
    std::shared_ptr<Module> m = load("a = [1]\nd = {'x': 1}\n");
    ASSERT_TRUE(m);
    ASSERT_TRUE(applyOverride(*m, "a.0=a").ok());
    ASSERT_TRUE(applyOverride(*m, "d.x=d").ok());
    EXPECT_EQ(m->get("a")->repr(), "[[...]]");
    EXPECT_EQ(m->get("d")->repr(), "{'x': {...}}");
    // A probe inside each cycle, put there by the caller.
    m->get("a")->asList().items.push_back(
        Value::host(std::make_shared<Probe>(&destroyed)));
    m->get("d")->asDict().set("p",
                              Value::host(std::make_shared<Probe>(&destroyed)));
  }
  EXPECT_EQ(destroyed, 2);
}

TEST(Cycles, ModuleDestructionFreesItsCycles) {
  int destroyed = 0;
  {
    std::shared_ptr<Module> m =
        load(std::string(kCycleMakers) + "a = []\na.append(a)\n");
    ASSERT_TRUE(m);
    for (const char *maker :
         {"via_list", "via_dict", "via_tuple", "via_call", "via_default"})
      (void)callWithProbe(*m, maker, &destroyed);
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 5);
}

TEST(Cycles, CollectingKeepsWhatIsStillReferenced) {
  std::shared_ptr<Module> m =
      load("a = [1]\na.append(a)\nd = {}\nd['a'] = a\nd['d'] = d\n"
           "def keep(h):\n    k = [h]\n    k.append(k)\n    return k\n");
  ASSERT_TRUE(m);
  int destroyed = 0;
  Value kept = callWithProbe(*m, "keep", &destroyed);
  // Referenced by the module's globals (a, d) and by this test (kept).
  m->globals()->registry->collectCycles();
  EXPECT_EQ(m->get("a")->repr(), "[1, [...]]");
  EXPECT_EQ(m->get("d")->repr(), "{'a': [1, [...]], 'd': {...}}");
  EXPECT_EQ(kept.repr(), "[<Probe object>, [...]]");
  EXPECT_EQ(destroyed, 0);
  // A value the caller keeps stays intact after its module is gone; the
  // caller then owns its cycle.
  m.reset();
  EXPECT_EQ(kept.repr(), "[<Probe object>, [...]]");
  EXPECT_EQ(destroyed, 0);
  kept.asList().items.clear();
  EXPECT_EQ(destroyed, 1);
}

TEST(Cycles, FunctionsCalledManyTimesDoNotPileUpCycles) {
  // Each call leaves a cycle; the collector runs whenever the number of
  // containers the module changed has doubled, so most are freed while
  // the module is still alive.
  std::shared_ptr<Module> m = load("def via_list(h):\n"
                                   "    for i in range(3):\n"
                                   "        a = [h]\n"
                                   "        a.append(a)\n");
  ASSERT_TRUE(m);
  int destroyed = 0;
  const int calls = 5000;
  for (int i = 0; i < calls; ++i)
    (void)callWithProbe(*m, "via_list", &destroyed);
  EXPECT_GT(destroyed, calls / 2);
  EXPECT_LT(m->globals()->registry->containers.size(), 4u * 4096);
  m.reset();
  EXPECT_EQ(destroyed, calls);
}

TEST(Cycles, LongGarbageChainsAreFreedWithoutRecursion) {
  // 100,000 nested lists closed into a cycle: freeing them must not take
  // one stack frame per level.
  int destroyed = 0;
  {
    std::shared_ptr<Module> m = load("def chain(h):\n"
                                     "    first = [h]\n"
                                     "    a = first\n"
                                     "    for i in range(100000):\n"
                                     "        a = [a]\n"
                                     "    first.append(a)\n");
    ASSERT_TRUE(m);
    (void)callWithProbe(*m, "chain", &destroyed);
  }
  EXPECT_EQ(destroyed, 1);
}
