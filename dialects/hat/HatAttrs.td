//===- HatAttrs.td - Enums and attributes of the hat dialect -*- tablegen -*-===//

#ifndef HAT_ATTRS_TD
#define HAT_ATTRS_TD

include "HatDialect.td"
include "mlir/IR/EnumAttr.td"

def Hat_QDType : I32EnumAttr<"QDType", "quantized data type", [
    I32EnumAttrCase<"qint8", 0>,
    I32EnumAttrCase<"qint16", 1>
  ]> {
  let cppNamespace = "::hat";
  let genSpecializedAttr = 0;
}
def Hat_QDTypeAttr : EnumAttr<Hat_Dialect, Hat_QDType, "qdtype">;

def Hat_Observer : I32EnumAttr<"Observer", "calibration observer", [
    I32EnumAttrCase<"minmax", 0>,
    I32EnumAttrCase<"percentile", 1>,
    I32EnumAttrCase<"mse", 2>
  ]> {
  let cppNamespace = "::hat";
  let genSpecializedAttr = 0;
}
def Hat_ObserverAttr : EnumAttr<Hat_Dialect, Hat_Observer, "observer">;

def Hat_ResizeMode : I32EnumAttr<"ResizeMode", "interpolation mode", [
    I32EnumAttrCase<"nearest", 0>,
    I32EnumAttrCase<"bilinear", 1>
  ]> {
  let cppNamespace = "::hat";
  let genSpecializedAttr = 0;
}
def Hat_ResizeModeAttr : EnumAttr<Hat_Dialect, Hat_ResizeMode, "resize_mode">;

#endif // HAT_ATTRS_TD
