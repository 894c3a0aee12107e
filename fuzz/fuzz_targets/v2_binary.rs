//! KServe V2 `infer` with Triton's binary tensor extension through the server's request decoder: the
//! first byte picks the model, the next two give the `Inference-Header-Content-Length` (so it can lie),
//! the rest is the body (JSON header, then the binary tensors).
#![no_main]

use homeml_server::decode::request;
use homeml_server::error::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, hi, lo, body @ ..] = data else {
        return;
    };
    let models = homeml_fuzz::models();
    let model = &models[usize::from(*pick) % models.len()];
    let header_len = u16::from_be_bytes([*hi, *lo]);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        "inference-header-content-length",
        http::HeaderValue::from(header_len),
    );
    if let Ok((input, _)) = request(Protocol::V2, &headers, body, model) {
        for t in &input.tensors {
            assert_eq!(t.shape().first().copied().unwrap_or(0), input.rows);
        }
    }
});
