//! homeml-onnx's integration tests as one binary, one module per concern (`ort_startup` stays its own binary: ONNX Runtime is loaded once per process).

mod common;

mod dense_layers;
mod fuzz_regressions;
mod onnxruntime_reference;
