//===- Parser.h - Parser of the HAT config language -------------*- C++ -*-===//
#ifndef HAT_LIB_CONFIG_PARSER_H
#define HAT_LIB_CONFIG_PARSER_H

#include "AST.h"

#include <memory>

namespace hat::config {

/// Parses a whole config file. Throws ConfigError on the first syntax error
/// or unsupported construct.
std::shared_ptr<ParsedModule>
parseModule(std::shared_ptr<const SourceFile> file);

/// Parses the whole of `file` as one expression (a `--set` value).
ExprPtr parseStandaloneExpression(std::shared_ptr<const SourceFile> file);

} // namespace hat::config

#endif // HAT_LIB_CONFIG_PARSER_H
