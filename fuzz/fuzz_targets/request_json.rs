//! JSON requests of every protocol (MLflow `/invocations`, KServe V2 `infer`, `/predict`) through the
//! server's request decoder: the first byte picks the protocol and the model, the rest is the body.
#![no_main]

use homeml_server::decode::request;
use homeml_server::error::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let models = homeml_fuzz::models();
    let model = &models[usize::from(pick >> 4) % models.len()];
    let proto = match pick % 3 {
        0 => Protocol::Mlflow,
        1 => Protocol::V2,
        _ => Protocol::Predict,
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Ok((input, _)) = request(proto, &headers, body, model) {
        // What the decoder hands the batcher must be consistent: every tensor has `rows` rows.
        for t in &input.tensors {
            assert_eq!(t.shape().first().copied().unwrap_or(0), input.rows);
        }
    }
});
