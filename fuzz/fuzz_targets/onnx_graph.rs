//! ONNX model files through the onnx flavor's tract loader (protobuf decoding, the graph's declared
//! inputs and outputs, homeml's operators, tract's analysis and optimization).
#![no_main]

use homeml_onnx::{OpSet, TractModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TractModel::from_bytes(data, OpSet::Homeml);
});
