//===- TestHelpers.h - Shared helpers of the HatConfig tests ----*- C++ -*-===//
#ifndef HAT_TEST_UNIT_CONFIG_TESTHELPERS_H
#define HAT_TEST_UNIT_CONFIG_TESTHELPERS_H

#include "hat/Config/Config.h"

#include <gtest/gtest.h>

namespace hat::config::testing {

/// Evaluates `source`; fails the test (and returns null) on an error.
inline std::shared_ptr<Module> load(const std::string &source) {
  Expected<std::shared_ptr<Module>> module =
      loadConfigSource(source, "test.py");
  EXPECT_TRUE(module.ok()) << (module ? "" : module.error().str());
  return module ? *module : nullptr;
}

/// repr() of variable `name` after evaluating `source`.
inline std::string reprOf(const std::string &source, const std::string &name) {
  std::shared_ptr<Module> module = load(source);
  if (!module)
    return "<load failed>";
  const Value *value = module->get(name);
  return value ? value->repr() : "<unbound " + name + ">";
}

/// The diagnostic of evaluating `source`, which must fail.
inline Diagnostic errorOf(const std::string &source) {
  Expected<std::shared_ptr<Module>> module =
      loadConfigSource(source, "test.py");
  EXPECT_FALSE(module.ok()) << "expected an error evaluating:\n" << source;
  return module ? Diagnostic() : module.error();
}

} // namespace hat::config::testing

#endif
