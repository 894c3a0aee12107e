//! MLmodel files: the YAML, then the signature's JSON strings inside it, as a model load reads them.
#![no_main]

use homeml_flavor::MlModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = MlModel::parse(text) {
        let _ = m.signature();
        let _ = m.flavor_names();
        let _ = m.to_yaml();
    }
});
