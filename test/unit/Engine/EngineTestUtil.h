//===- EngineTestUtil.h - Shared helpers of the engine tests ----*- C++ -*-===//
#ifndef HAT_TEST_UNIT_ENGINE_ENGINETESTUTIL_H
#define HAT_TEST_UNIT_ENGINE_ENGINETESTUTIL_H

#include "hat/Config/Config.h"
#include "hat/Config/Registry.h"

#include <any>
#include <string>

namespace hat::engine::test {

/// Evaluates `source` as test.py and builds its variable `name` as a
/// `category`; the Diagnostic of either step on failure.
inline config::Expected<std::any> buildFromSource(const std::string &source,
                                                  const std::string &name,
                                                  const std::string &category) {
  auto module = config::loadConfigSource(source, "test.py");
  if (!module)
    return module.error();
  const config::Value *value = (*module)->get(name);
  if (!value)
    return config::Diagnostic("test config defines no '" + name + "'");
  return config::Registry::instance().build(*value, category);
}

} // namespace hat::engine::test

#endif // HAT_TEST_UNIT_ENGINE_ENGINETESTUTIL_H
