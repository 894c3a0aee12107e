//! ONNX flavor: tract with homeml's own ai.onnx.ml operators
