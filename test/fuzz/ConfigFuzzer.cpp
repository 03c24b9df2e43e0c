//===- ConfigFuzzer.cpp - libFuzzer target for the config language --------===//
//
// Feeds arbitrary bytes through the lexer, parser and evaluator (as a module
// and as a `--set` expression), renders what evaluates as JSON and calls the
// functions it defines. Any crash, sanitizer report, or error without a
// file:line location is a finding.
//
//===----------------------------------------------------------------------===//

#include "hat/Config/Config.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace hat::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024)
    return 0;
  std::string text(reinterpret_cast<const char *>(data), size);
  EvalOptions options;
  options.maxSteps = 100000;
  options.maxSequenceLength = 10000;
  options.print = [](const std::string &) {};

  Expected<std::shared_ptr<Module>> module =
      loadConfigSource(text, "fuzz.py", options);
  if (!module) {
    if (!module.error().hasLocation() || module.error().file != "fuzz.py")
      std::abort(); // every config error must say where
  } else {
    (void)moduleToJson(**module);
    for (const auto &[name, value] : (*module)->variables())
      if (value.isFunction())
        (void)callFunction(
            value, {Value::list({Value::integer(1)}), Value::dict(), Value()},
            {}, options);
    (void)applyOverride(**module, "x.0.y=[1, (2,), {'a': None}]");
  }
  Expected<Value> expression = evaluateExpression(text, "<expr>");
  if (expression)
    (void)expression->repr();
  return 0;
}
