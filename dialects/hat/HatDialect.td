//===- HatDialect.td - The hat dialect definition ----------*- tablegen -*-===//
//
// The `hat` dialect models vision networks at the level a QAT toolkit sees
// them: float layers, fake-quant nodes and fully integer layers whose
// attributes carry the fixed-point requantization of docs/quantization.md.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DIALECT_TD
#define HAT_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Hat_Dialect : Dialect {
  let name = "hat";
  let cppNamespace = "::hat";
  let summary = "Vision networks for float training, QAT and integer inference";
  let description = [{
    Tensors are builtin ranked tensors in NCHW layout. Float models use f32;
    integer models use i8/i16 activations, i8 weights and i32 biases. Every
    weight is a `hat.param` op holding its data, so one file is a complete
    model.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Hat_Op<string mnemonic, list<Trait> traits = []>
    : Op<Hat_Dialect, mnemonic, traits>;

#endif // HAT_DIALECT_TD
