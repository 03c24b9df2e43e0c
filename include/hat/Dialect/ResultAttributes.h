//===- ResultAttributes.h - Result attributes of hat models --*- C++ -*-===//
//
// Attributes on the results of a lowered model's function that passes and
// consumers (engine, hat-compile, runtime callers) agree on. Names, branch
// and post-process attributes are described in docs/detection.md.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DIALECT_RESULTATTRIBUTES_H
#define HAT_DIALECT_RESULTATTRIBUTES_H

namespace hat {

/// Unit attribute: hat-qat2quantize returns this result as its integers (no
/// hat.dequantize) and records their scale in kResultScaleAttr; the caller
/// dequantizes (FCOSHead's dequant_output=False).
constexpr const char *kKeepQuantizedAttr = "hat.keep_quantized";
/// The per-tensor scale of an integer result (array<f32: s>): its float
/// value is float(q) * s in float32.
constexpr const char *kResultScaleAttr = "hat.scale";

} // namespace hat

#endif // HAT_DIALECT_RESULTATTRIBUTES_H
