//! Inputs the fuzzer found (`fuzz/regressions/`): each is refused with an error, never a panic.

use std::path::Path;

use homeml_flavor::FlavorError;
use homeml_onnx::{OpSet, TractModel};

#[test]
fn a_mutated_tree_ensemble_that_made_tract_panic_is_an_invalid_model() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/onnx_graph-50f5888c.onnx");
    let bytes = std::fs::read(&path).unwrap();
    for ops in [OpSet::Homeml, OpSet::TractOnly] {
        match TractModel::from_bytes(&bytes, ops) {
            Err(FlavorError::InvalidModel(m)) => assert!(!m.is_empty()),
            Err(other) => panic!("{ops:?}: expected an invalid model, got {other}"),
            Ok(_) => panic!("{ops:?}: the damaged model loaded"),
        }
    }
}
