//===- EvaluatorTests.cpp - Semantics of the config language --------------===//

#include "TestHelpers.h"

#include <cstdlib>

using namespace hat::config;
using namespace hat::config::testing;

TEST(Evaluator, IntegerArithmeticFollowsPython) {
  EXPECT_EQ(reprOf("x = 7 // 2", "x"), "3");
  EXPECT_EQ(reprOf("x = -7 // 2", "x"), "-4");
  EXPECT_EQ(reprOf("x = 7 // -2", "x"), "-4");
  EXPECT_EQ(reprOf("x = -7 % 3", "x"), "2");
  EXPECT_EQ(reprOf("x = 7 % -3", "x"), "-2");
  EXPECT_EQ(reprOf("x = 7 / 2", "x"), "3.5");
  EXPECT_EQ(reprOf("x = 4 / 2", "x"), "2.0");
  EXPECT_EQ(reprOf("x = 2 ** 10", "x"), "1024");
  EXPECT_EQ(reprOf("x = 2 ** -1", "x"), "0.5");
  EXPECT_EQ(reprOf("x = 80 + 1", "x"), "81");
  EXPECT_EQ(reprOf("x = 1 + 2 * 3 - 4", "x"), "3");
  EXPECT_EQ(reprOf("x = (1 + 2) * 3", "x"), "9");
  EXPECT_EQ(reprOf("x = -2 ** 2", "x"), "-4");
  EXPECT_EQ(reprOf("x = True + 1", "x"), "2");
  EXPECT_EQ(reprOf("x = 0x10 | 0b1", "x"), "17");
  EXPECT_EQ(reprOf("x = 1_000", "x"), "1000");
}

TEST(Evaluator, FloatArithmeticFollowsPython) {
  EXPECT_EQ(reprOf("x = 7.5 // 2", "x"), "3.0");
  EXPECT_EQ(reprOf("x = -7.5 // 2", "x"), "-4.0");
  EXPECT_EQ(reprOf("x = -7.5 % 2", "x"), "0.5");
  EXPECT_EQ(reprOf("x = 5.5 % -2", "x"), "-0.5");
  EXPECT_EQ(reprOf("x = 0.1 + 0.2", "x"), "0.30000000000000004");
  EXPECT_EQ(reprOf("x = 4e-5", "x"), "4e-05");
  EXPECT_EQ(reprOf("x = 1e16", "x"), "1e+16");
  EXPECT_EQ(reprOf("x = 1e15", "x"), "1000000000000000.0");
  EXPECT_EQ(reprOf("x = 0.14 * 4", "x"), "0.56");
  EXPECT_EQ(reprOf("x = -2.944", "x"), "-2.944");
}

TEST(Evaluator, ArithmeticErrorsAreDiagnostics) {
  Diagnostic division = errorOf("a = 1\nb = a // 0\n");
  EXPECT_EQ(division.line, 2u);
  EXPECT_EQ(division.column, 7u);
  EXPECT_NE(division.message.find("division or modulo by zero"),
            std::string::npos);
  EXPECT_NE(errorOf("x = 2 ** 64").message.find("integer overflow"),
            std::string::npos);
  EXPECT_NE(errorOf("x = 9223372036854775808").message.find("too large"),
            std::string::npos);
  EXPECT_NE(
      errorOf("x = 'a' + 1")
          .message.find("unsupported operand type(s) for +: 'str' and 'int'"),
      std::string::npos);
}

TEST(Evaluator, StringFormatting) {
  EXPECT_EQ(reprOf("t = 'fcos'\nx = './tmp_models/%s' % t", "x"),
            "'./tmp_models/fcos'");
  EXPECT_EQ(reprOf("x = '%d-%05.1f-%s' % (3, 2.25, None)", "x"),
            "'3-002.2-None'");
  EXPECT_EQ(reprOf("x = '%(a)s=%(b)r' % {'a': 1, 'b': 'q'}", "x"), "\"1='q'\"");
  EXPECT_EQ(reprOf("x = '100%%'  % ()", "x"), "'100%'");
  EXPECT_EQ(reprOf("x = '%-4s|%4d|%x' % ('ab', 7, 255)", "x"),
            "'ab  |   7|ff'");
  EXPECT_EQ(
      reprOf("lr = 0.14\nx = f'lr={lr:.3f} n={3:>4} {\"s\"!r} {{}}'", "x"),
      "\"lr=0.140 n=   3 's' {}\"");
  EXPECT_EQ(reprOf("x = f'{1234567:,} {0.25:.0%} {7:b} {3.0}'", "x"),
            "'1,234,567 25% 111 3.0'");
  EXPECT_EQ(reprOf("x = '{}-{name}-{0}'.format('a', name='b')", "x"),
            "'a-b-a'");
  EXPECT_EQ(reprOf("x = 'loss_ ' + 'task'", "x"), "'loss_ task'");
  EXPECT_EQ(reprOf("x = 'ab' * 3", "x"), "'ababab'");
  EXPECT_NE(errorOf("x = '%d %d' % (1,)").message.find("not enough arguments"),
            std::string::npos);
  EXPECT_NE(
      errorOf("x = '%d' % (1, 2)").message.find("not all arguments converted"),
      std::string::npos);
}

TEST(Evaluator, ComparisonsAndConditionals) {
  EXPECT_EQ(reprOf("x = 1 < 2 <= 2 < 3", "x"), "True");
  EXPECT_EQ(reprOf("x = 1 < 2 > 3", "x"), "False");
  EXPECT_EQ(reprOf("x = 1 == 1.0", "x"), "True");
  EXPECT_EQ(reprOf("x = [1, (2, 3)] == [1, (2, 3)]", "x"), "True");
  EXPECT_EQ(reprOf("x = 'b' in {'a': 1, 'b': 2}", "x"), "True");
  EXPECT_EQ(reprOf("x = 3 not in [1, 2]", "x"), "True");
  EXPECT_EQ(reprOf("x = None is None", "x"), "True");
  EXPECT_EQ(reprOf("x = 'qat' if 'float' == 'qat' else 'float'", "x"),
            "'float'");
  EXPECT_EQ(reprOf("x = 0 or [] or 'x'", "x"), "'x'");
  EXPECT_EQ(reprOf("x = 1 and 0", "x"), "0");
  EXPECT_EQ(reprOf("x = not []", "x"), "True");
  EXPECT_EQ(reprOf("x = (1, 2) < (1, 3)", "x"), "True");
  EXPECT_NE(errorOf("x = 1 < 'a'").message.find("'<' not supported"),
            std::string::npos);
}

TEST(Evaluator, ContainersAndMethods) {
  const char *source = R"(
d = dict(a=1, b=2)
d.update({"c": 3}, )
d.update(e=5)
popped = d.pop("a")
missing = d.pop("zz", "default")
got = d.get("b"), d.get("nope"), d.get("nope", 7)
keys = list(d.keys())
items = d.items()
values = d.values()
lst = [3, 1, 2]
lst.append(4)
lst.extend((5,))
lst.insert(0, 0)
last = lst.pop()
s = sorted(lst, reverse=True)
sliced = lst[1:3], lst[::-1], lst[-1]
t = (1,)
n = len(lst), len("abc"), len(d)
joined = "/".join(["a", "b"])
parts = "a,b,,c".split(",")
z = list(zip([1, 2], "ab"))
e = list(enumerate(["x", "y"], 1))
r = list(range(0, 10, 3))
setd = {}
setd.setdefault("k", []).append(1)
merged = {**d, "b": 20}
)";
  std::shared_ptr<Module> m = load(source);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("d")->repr(), "{'b': 2, 'c': 3, 'e': 5}");
  EXPECT_EQ(m->get("popped")->repr(), "1");
  EXPECT_EQ(m->get("missing")->repr(), "'default'");
  EXPECT_EQ(m->get("got")->repr(), "(2, None, 7)");
  EXPECT_EQ(m->get("keys")->repr(), "['b', 'c', 'e']");
  EXPECT_EQ(m->get("items")->repr(), "[('b', 2), ('c', 3), ('e', 5)]");
  EXPECT_EQ(m->get("values")->repr(), "[2, 3, 5]");
  EXPECT_EQ(m->get("lst")->repr(), "[0, 3, 1, 2, 4]");
  EXPECT_EQ(m->get("last")->repr(), "5");
  EXPECT_EQ(m->get("s")->repr(), "[4, 3, 2, 1, 0]");
  EXPECT_EQ(m->get("sliced")->repr(), "([3, 1], [4, 2, 1, 3, 0], 4)");
  EXPECT_EQ(m->get("t")->repr(), "(1,)");
  EXPECT_EQ(m->get("n")->repr(), "(5, 3, 3)");
  EXPECT_EQ(m->get("joined")->repr(), "'a/b'");
  EXPECT_EQ(m->get("parts")->repr(), "['a', 'b', '', 'c']");
  EXPECT_EQ(m->get("z")->repr(), "[(1, 'a'), (2, 'b')]");
  EXPECT_EQ(m->get("e")->repr(), "[(1, 'x'), (2, 'y')]");
  EXPECT_EQ(m->get("r")->repr(), "[0, 3, 6, 9]");
  EXPECT_EQ(m->get("setd")->repr(), "{'k': [1]}");
  EXPECT_EQ(m->get("merged")->repr(), "{'b': 20, 'c': 3, 'e': 5}");
}

TEST(Evaluator, DictKeysUsePythonEquality) {
  EXPECT_EQ(reprOf("d = dict({2: 16, 4: 24})\nd[2.0] = 17\nx = d", "x"),
            "{2: 17, 4: 24}");
  EXPECT_NE(errorOf("d = {[1]: 2}").message.find("unhashable type: 'list'"),
            std::string::npos);
}

TEST(Evaluator, AssignmentAliasesAndDeepcopyCopies) {
  const char *source = R"(
import copy
base = dict(transforms=[dict(type="Resize")], sampler=dict(type="S"))
alias = base
deep = copy.deepcopy(base)
shallow = copy.copy(base)
alias["transforms"].append(dict(type="Pad"))
deep.pop("sampler")
lst = [1]
lst2 = lst
lst2 += [2]
)";
  std::shared_ptr<Module> m = load(source);
  ASSERT_TRUE(m);
  // `alias` is the same dict: appending through it shows in `base`.
  EXPECT_EQ(m->get("base")->asDict().find("transforms")->asList().items.size(),
            2u);
  EXPECT_TRUE(m->get("base")->sameObject(*m->get("alias")));
  // The deep copy neither saw the append nor shares its transforms list.
  EXPECT_EQ(m->get("deep")->repr(), "{'transforms': [{'type': 'Resize'}]}");
  EXPECT_NE(m->get("base")->asDict().find("sampler"), nullptr);
  // A shallow copy shares the inner list.
  EXPECT_EQ(
      m->get("shallow")->asDict().find("transforms")->asList().items.size(),
      2u);
  EXPECT_EQ(m->get("lst")->repr(), "[1, 2]");
}

TEST(Evaluator, DeepcopyKeepsSharedStructureShared) {
  std::shared_ptr<Module> m = load("import copy\ninner = [1]\nouter = [inner, "
                                   "inner]\nc = copy.deepcopy(outer)\n");
  ASSERT_TRUE(m);
  const auto &items = m->get("c")->asList().items;
  EXPECT_TRUE(items[0].sameObject(items[1]));
  EXPECT_FALSE(items[0].sameObject(*m->get("inner")));
}

TEST(Evaluator, SymbolsFromImports) {
  const char *source = R"(
import torch
import torch.nn as nn
from horizon_plugin_pytorch.march import March
from hat.utils.config import ConfigVersion
import hat
opt = torch.optim.SGD
march = March.NASH_E
version = ConfigVersion.v2
collate = hat.data.collates.collate_2d
relu = nn.ReLU(inplace=True)
inputs = dict(img=torch.randn((1, 3, 512, 512)))
)";
  std::shared_ptr<Module> m = load(source);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("opt")->symbolName(), "torch.optim.SGD");
  EXPECT_EQ(m->get("march")->symbolName(),
            "horizon_plugin_pytorch.march.March.NASH_E");
  EXPECT_EQ(m->get("version")->symbolName(),
            "hat.utils.config.ConfigVersion.v2");
  EXPECT_EQ(m->get("collate")->symbolName(), "hat.data.collates.collate_2d");
  const CallData &relu = m->get("relu")->asCall();
  EXPECT_EQ(relu.callee, "torch.nn.ReLU");
  ASSERT_EQ(relu.kwargs.size(), 1u);
  EXPECT_EQ(relu.kwargs[0].first, "inplace");
  // Deploy code reads the input shape from the call's first argument.
  const CallData &randn = m->get("inputs")->asDict().find("img")->asCall();
  EXPECT_EQ(randn.callee, "torch.randn");
  ASSERT_EQ(randn.args.size(), 1u);
  EXPECT_EQ(randn.args[0].repr(), "(1, 3, 512, 512)");
  // Imports are not config variables.
  for (const auto &[name, value] : m->variables())
    EXPECT_TRUE(name != "torch" && name != "March" && name != "hat") << name;
  EXPECT_TRUE(m->isImport("March"));
}

TEST(Evaluator, OsAndEnvironment) {
  ::setenv("HAT_CONFIG_TEST_STAGE", "qat", 1);
  ::unsetenv("HAT_CONFIG_TEST_UNSET");
  const char *source = R"(
import os
stage = os.environ.get("HAT_CONFIG_TEST_STAGE", "float")
fallback = os.environ.get("HAT_CONFIG_TEST_UNSET", "float")
p = os.path.join("./tmp", "fcos", "a.pth")
absolute = os.path.join("a", "/b", "c")
base = os.path.basename("/x/y/model.hbm")
dirn = os.path.dirname("/x/y/model.hbm")
ext = os.path.splitext("model.tar.gz")
exists = os.path.exists("/definitely/not/here"), os.path.exists("/")
has = "HAT_CONFIG_TEST_STAGE" in os.environ
)";
  std::shared_ptr<Module> m = load(source);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("stage")->repr(), "'qat'");
  EXPECT_EQ(m->get("fallback")->repr(), "'float'");
  EXPECT_EQ(m->get("p")->repr(), "'./tmp/fcos/a.pth'");
  EXPECT_EQ(m->get("absolute")->repr(), "'/b/c'");
  EXPECT_EQ(m->get("base")->repr(), "'model.hbm'");
  EXPECT_EQ(m->get("dirn")->repr(), "'/x/y'");
  EXPECT_EQ(m->get("ext")->repr(), "('model.tar', '.gz')");
  EXPECT_EQ(m->get("exists")->repr(), "(False, True)");
  EXPECT_EQ(m->get("has")->repr(), "True");
  EXPECT_EQ(reprOf("import os\nhere = os.path.basename(__file__)", "here"),
            "'test.py'");
  Diagnostic missing =
      errorOf("import os\nx = os.environ['HAT_CONFIG_TEST_UNSET']\n");
  EXPECT_NE(missing.message.find("is not set"), std::string::npos);
}

TEST(Evaluator, FunctionsWithLoopsIfAndReturn) {
  const char *source = R"(
def scale(values, factor=2, *rest, **options):
    out = []
    for v in values:
        if v < 0:
            continue
        elif v > 100:
            break
        else:
            out.append(v * factor)
    if options.get("reverse"):
        out.reverse()
    return out
a = scale([1, -1, 2, 101, 3])
b = scale([1, 2], factor=10, reverse=True)
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
c = fact(10)
)";
  std::shared_ptr<Module> m = load(source);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("a")->repr(), "[2, 4]");
  EXPECT_EQ(m->get("b")->repr(), "[20, 10]");
  EXPECT_EQ(m->get("c")->repr(), "3628800");
  EXPECT_EQ(functionName(*m->get("scale")), "scale");
  EXPECT_NE(errorOf("def f(a):\n    return a\nx = f()\n")
                .message.find("missing required argument 'a'"),
            std::string::npos);
  EXPECT_NE(errorOf("def f(a):\n    return a\nx = f(1, b=2)\n")
                .message.find("unexpected keyword argument 'b'"),
            std::string::npos);
  EXPECT_NE(
      errorOf("def f():\n    return f()\nx = f()\n").message.find("recursion"),
      std::string::npos);
}

TEST(Evaluator, ConfigFunctionCalledLaterWithRuntimeValues) {
  std::shared_ptr<Module> m = load(R"(
def loss_collector(outputs: dict):
    losses = []
    for _, loss in outputs.items():
        losses.append(loss)
    return losses
)");
  ASSERT_TRUE(m);
  Value outputs = Value::dict();
  outputs.asDict().set("cls", Value::real(0.5));
  outputs.asDict().set("reg", Value::real(1.5));
  Expected<Value> losses = callFunction(*m->get("loss_collector"), {outputs});
  ASSERT_TRUE(losses.ok()) << losses.error().str();
  EXPECT_EQ(losses->repr(), "[0.5, 1.5]");

  Expected<Value> wrong =
      callFunction(*m->get("loss_collector"), {Value::integer(3)});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().file, "test.py");
  EXPECT_EQ(wrong.error().line, 4u);
  EXPECT_NE(wrong.error().message.find("'int' object has no method 'items'"),
            std::string::npos);
}

namespace {
/// A stand-in for a runtime metric: records what config code does with it.
class RecordingMetric : public HostObject {
public:
  std::string typeName() const override { return "LossShow"; }
  Expected<Value> callMethod(const std::string &name,
                             const std::vector<Value> &args,
                             const Kwargs &) override {
    if (name != "update")
      return HostObject::callMethod(name, args, {});
    updates.push_back(args.empty() ? Value() : args[0]);
    return Value();
  }
  Expected<Value> getAttribute(const std::string &name) override {
    if (name == "name")
      return Value::string("loss");
    return HostObject::getAttribute(name);
  }
  std::vector<Value> updates;
};
} // namespace

TEST(Evaluator, HostObjectsReceiveMethodCalls) {
  std::shared_ptr<Module> m = load(R"(
def update_loss(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(model_outs)
    return [metric.name for metric in metrics]
def bad(metric):
    metric.reset()
)");
  ASSERT_TRUE(m);
  auto first = std::make_shared<RecordingMetric>();
  auto second = std::make_shared<RecordingMetric>();
  Value metrics = Value::list({Value::host(first), Value::host(second)});
  Expected<Value> names = callFunction(*m->get("update_loss"),
                                       {metrics, Value(), Value::integer(42)});
  ASSERT_TRUE(names.ok()) << names.error().str();
  EXPECT_EQ(names->repr(), "['loss', 'loss']");
  ASSERT_EQ(first->updates.size(), 1u);
  EXPECT_EQ(first->updates[0].repr(), "42");
  EXPECT_EQ(second->updates.size(), 1u);

  Expected<Value> bad = callFunction(*m->get("bad"), {Value::host(first)});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().line, 7u);
  EXPECT_NE(bad.error().message.find("'LossShow' object has no method 'reset'"),
            std::string::npos);
}

TEST(Evaluator, Comprehensions) {
  EXPECT_EQ(reprOf("x = [i * i for i in range(5) if i % 2 == 0]", "x"),
            "[0, 4, 16]");
  EXPECT_EQ(reprOf("x = {s: s * 8 for s in [1, 2]}", "x"), "{1: 8, 2: 16}");
  EXPECT_EQ(reprOf("x = [(a, b) for a in 'ab' for b in (1, 2)]", "x"),
            "[('a', 1), ('a', 2), ('b', 1), ('b', 2)]");
  EXPECT_EQ(reprOf("x = sum(i for i in range(4))", "x"), "6");
  // The loop variable does not leak.
  EXPECT_NE(errorOf("x = [i for i in [1]]\ny = i\n")
                .message.find("'i' is not defined"),
            std::string::npos);
}

TEST(Evaluator, UnpackingAndAugmentedAssignment) {
  EXPECT_EQ(reprOf("a, (b, c) = 1, (2, 3)\nx = [a, b, c]", "x"), "[1, 2, 3]");
  EXPECT_EQ(reprOf("x = 1\nx += 2\nx *= 3", "x"), "9");
  EXPECT_EQ(reprOf("d = {'n': 1}\nd['n'] += 4\nx = d", "x"), "{'n': 5}");
  EXPECT_EQ(reprOf("x = y = [0]\ny.append(1)", "x"), "[0, 1]");
  EXPECT_EQ(reprOf("x = [1, [2]]\nx[-1] += [3]\nx[0] *= 5", "x"),
            "[5, [2, 3]]");
  EXPECT_NE(errorOf("x = [1]\nx[3] += 1").message.find("out of range"),
            std::string::npos);
  EXPECT_NE(errorOf("x = (1,)\nx[0] += 1")
                .message.find("does not support item assignment"),
            std::string::npos);
  EXPECT_NE(
      errorOf("a, b = [1, 2, 3]").message.find("too many values to unpack"),
      std::string::npos);
}

TEST(Evaluator, ModuleVariablesKeepDefinitionOrder) {
  std::shared_ptr<Module> m =
      load("import os\nb = 1\na = 2\nb = 3\ndef f():\n    pass\n");
  ASSERT_TRUE(m);
  std::vector<std::string> names;
  for (const auto &[name, value] : m->variables())
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "a", "f"}));
  EXPECT_EQ(m->get("b")->repr(), "3");
}

TEST(Evaluator, ErrorsNameFileLineAndColumn) {
  Diagnostic unknown = errorOf("x = 1\ny = dict(a=undefined_name)\n");
  EXPECT_EQ(unknown.file, "test.py");
  EXPECT_EQ(unknown.line, 2u);
  EXPECT_EQ(unknown.column, 12u);
  EXPECT_EQ(unknown.message, "name 'undefined_name' is not defined");
  EXPECT_EQ(unknown.str(),
            "test.py:2:12: error: name 'undefined_name' is not defined\n"
            "y = dict(a=undefined_name)\n"
            "           ^\n");

  Diagnostic typo = errorOf("num_classes = 80\nx = num_clases\n");
  EXPECT_NE(typo.message.find("did you mean 'num_classes'?"),
            std::string::npos);

  // As in Python, the ')' on line 4 closes the inner dict, so the error is
  // the outer parenthesis on line 1.
  Diagnostic unclosed =
      errorOf("model = dict(\n    type='FCOS',\n    head=dict(a=1\n)\n");
  EXPECT_EQ(unclosed.line, 1u);
  EXPECT_EQ(unclosed.column, 13u);
  EXPECT_EQ(unclosed.message, "'(' was never closed");

  Diagnostic syntax = errorOf("x = dict(a=1 b=2)\n");
  EXPECT_EQ(syntax.line, 1u);
  EXPECT_EQ(syntax.column, 14u);
  EXPECT_EQ(syntax.message, "expected ')' to close the call, found name 'b'");
}

TEST(Evaluator, UnsupportedConstructsAreNamed) {
  EXPECT_NE(errorOf("f = lambda x: x")
                .message.find("lambda expressions are not supported"),
            std::string::npos);
  EXPECT_NE(errorOf("class A:\n    pass\n").message.find("'class' definitions"),
            std::string::npos);
  EXPECT_NE(errorOf("while True:\n    pass\n").message.find("'while' loops"),
            std::string::npos);
  EXPECT_NE(
      errorOf("try:\n    x = 1\nexcept:\n    pass\n").message.find("'try'"),
      std::string::npos);
  EXPECT_NE(errorOf("from os import *").message.find("import *"),
            std::string::npos);
  EXPECT_NE(errorOf("x = {1, 2}").message.find("set literals"),
            std::string::npos);
  EXPECT_NE(errorOf("with open('f') as f:\n    pass\n").message.find("'with'"),
            std::string::npos);
  EXPECT_NE(errorOf("import os\nx = os.system('ls')")
                .message.find("'os.system' is not supported"),
            std::string::npos);
}

TEST(Evaluator, LimitsStopRunawayConfigs) {
  EvalOptions options;
  options.maxSteps = 10000;
  Expected<std::shared_ptr<Module>> loop = loadConfigSource(
      "x = 0\nfor i in range(100000):\n    x += i\n", "loop.py", options);
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error().message.find("steps"), std::string::npos);

  EXPECT_NE(errorOf("x = [0] * 100000000000").message.find("limit"),
            std::string::npos);
  std::string deep =
      "x = " + std::string(300, '(') + "1" + std::string(300, ')');
  EXPECT_NE(errorOf(deep).message.find("nested"), std::string::npos);
}

TEST(Evaluator, AssertReportsItsMessage) {
  Diagnostic failed =
      errorOf("n = 3\nassert n % 2 == 0, f'n={n} must be even'\n");
  EXPECT_EQ(failed.line, 2u);
  EXPECT_EQ(failed.message, "assertion failed: n=3 must be even");
}

TEST(Evaluator, ExpressionsEvaluateStandalone) {
  Expected<Value> value =
      evaluateExpression("[1, 2.5, 'a', (None,), {'k': True}]", "<expr>");
  ASSERT_TRUE(value.ok()) << value.error().str();
  EXPECT_EQ(value->repr(), "[1, 2.5, 'a', (None,), {'k': True}]");
  Expected<Value> bad = evaluateExpression("1 +", "<expr>");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().file, "<expr>");
}

TEST(Evaluator, SeedConfigEvaluates) {
  const char *sourceDir = std::getenv("HAT_SOURCE_DIR");
  std::string path =
      std::string(sourceDir ? sourceDir : HAT_SOURCE_DIR_DEFAULT) +
      "/test/Inputs/configs/fcos_efficientnetb0_mscoco.py";
  Expected<std::shared_ptr<Module>> m = loadConfigFile(path);
  ASSERT_TRUE(m.ok()) << m.error().str();
  const Module &module = **m;
  EXPECT_EQ(module.get("num_classes")->asInt(), 80);
  const DictData &model = module.get("model")->asDict();
  EXPECT_EQ(model.find("head")->asDict().find("num_classes")->asInt(), 80);
  EXPECT_EQ(model.find("targets")
                ->asDict()
                .find("loss_cls")
                ->asDict()
                .find("num_classes")
                ->asInt(),
            81);
  // calibration_data_loader is a deep copy without the sampler; the original
  // keeps it.
  EXPECT_EQ(module.get("calibration_data_loader")->asDict().find("sampler"),
            nullptr);
  EXPECT_NE(module.get("data_loader")->asDict().find("sampler"), nullptr);
  // float_trainer.model aliases model.
  EXPECT_TRUE(module.get("float_trainer")
                  ->asDict()
                  .find("model")
                  ->sameObject(*module.get("model")));
  EXPECT_TRUE(module.get("batch_processor")
                  ->asDict()
                  .find("loss_collector")
                  ->isFunction());
}

// Found by the config fuzzer under LeakSanitizer: a module-level `def` holds
// the module's globals as its closure while the globals hold the function,
// so every config with a function leaked its whole module (and a closure
// returned by a call leaked that call's scope, whose parent is the globals).
TEST(Evaluator, ModulesWithFunctionsAreFreed) {
  std::weak_ptr<Scope> globals;
  {
    std::shared_ptr<Module> module =
        load("k = 3\n"
             "def scale(x):\n    return x * k\n"
             "def make(n):\n    def add(x):\n        return x + n\n"
             "    return add\n"
             "add2 = make(2)\n"
             "y = add2(scale(1))\n");
    ASSERT_TRUE(module);
    EXPECT_EQ(module->get("y")->repr(), "5");
    globals = module->globals();
  }
  EXPECT_TRUE(globals.expired());
}
