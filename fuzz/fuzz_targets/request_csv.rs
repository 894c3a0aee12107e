//! MLflow `/invocations` with `text/csv` bodies through the server's request decoder: the first byte
//! picks the model, the rest is the CSV.
#![no_main]

use homeml_server::decode::request;
use homeml_server::error::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let models = homeml_fuzz::models();
    let model = &models[usize::from(pick) % models.len()];
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/csv"),
    );
    if let Ok((input, _)) = request(Protocol::Mlflow, &headers, body, model) {
        for t in &input.tensors {
            assert_eq!(t.shape().first().copied().unwrap_or(0), input.rows);
        }
    }
});
