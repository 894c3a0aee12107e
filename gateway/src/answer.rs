//! The gateway's own answers: JSON responses with the request id, error responses (with `Retry-After`
//! or `Connection: close` where the error calls for them), and the prediction answer written straight
//! to JSON bytes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::error::GatewayError;
use crate::output::Prediction;

/// A response body.
pub type Body = Full<Bytes>;

pub(crate) fn json_response(status: StatusCode, v: &Value, request_id: &str) -> Response<Body> {
    json_bytes_response(
        status,
        serde_json::to_vec(v).unwrap_or_default(),
        request_id,
    )
}

pub(crate) fn json_bytes_response(
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

pub(crate) fn error_response(e: &GatewayError, request_id: &str) -> Response<Body> {
    let mut r = json_response(e.status(), &e.body(), request_id);
    if let GatewayError::RateLimited { retry_after_secs } = e {
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            HeaderValue::from(*retry_after_secs),
        );
    }
    if let GatewayError::BodyTimeout { .. } = e {
        r.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A prediction's answer, written straight to JSON (no `serde_json::Value` in between): one row's
/// `{"label", "model": {"name", "version"}, "probabilities"?, "request_id", "score"?, "upstream"}`, or
/// `{"model", "predictions": [{"label", "probabilities"?, "score"?}, ...], "request_id", "upstream"}`
/// for a batch. Keys in sorted order, as the `Value` maps they replaced wrote them.
pub(crate) struct PredictAnswer<'a> {
    /// The predictions, one per row.
    pub(crate) preds: &'a [Prediction],
    /// Whether the request was one object (not a list).
    pub(crate) single: bool,
    /// The model's name as the upstream answered it.
    pub(crate) model_name: &'a str,
    /// The model's version, if known.
    pub(crate) model_version: Option<&'a str>,
    /// The upstream that answered.
    pub(crate) upstream: &'a str,
    /// The request's id.
    pub(crate) request_id: &'a str,
}

/// One prediction inside a batch answer, keys sorted.
struct BatchRow<'a>(&'a Prediction);

impl serde::Serialize for BatchRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("label", &p.label)?;
        if let Some(probs) = &p.probabilities {
            m.serialize_entry("probabilities", probs)?;
        }
        if let Some(score) = &p.score {
            m.serialize_entry("score", score)?;
        }
        m.end()
    }
}

struct Model<'a> {
    name: &'a str,
    version: Option<&'a str>,
}

impl serde::Serialize for Model<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", self.name)?;
        m.serialize_entry("version", &self.version)?;
        m.end()
    }
}

struct BatchRows<'a>(&'a [Prediction]);

impl serde::Serialize for BatchRows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(BatchRow))
    }
}

impl serde::Serialize for PredictAnswer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let model = Model {
            name: self.model_name,
            version: self.model_version,
        };
        let mut m = s.serialize_map(None)?;
        match (self.single, self.preds.first()) {
            (true, Some(p)) => {
                m.serialize_entry("label", &p.label)?;
                m.serialize_entry("model", &model)?;
                if let Some(probs) = &p.probabilities {
                    m.serialize_entry("probabilities", probs)?;
                }
                m.serialize_entry("request_id", self.request_id)?;
                if let Some(score) = &p.score {
                    m.serialize_entry("score", score)?;
                }
            }
            (true, None) => {
                m.serialize_entry("model", &model)?;
                m.serialize_entry("request_id", self.request_id)?;
            }
            (false, _) => {
                m.serialize_entry("model", &model)?;
                m.serialize_entry("predictions", &BatchRows(self.preds))?;
                m.serialize_entry("request_id", self.request_id)?;
            }
        }
        m.serialize_entry("upstream", self.upstream)?;
        m.end()
    }
}

impl PredictAnswer<'_> {
    /// The answer's JSON bytes.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + 96 * self.preds.len());
        // Writing strings, numbers and `Value`s into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, self);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The answer as it was built before it was written directly: a `Value` tree.
    fn answer_via_value(a: &PredictAnswer<'_>) -> Vec<u8> {
        let model = json!({"name": a.model_name, "version": a.model_version});
        let mut out = if a.single {
            match a.preds.first() {
                Some(p) => serde_json::to_value(p).unwrap(),
                None => json!({}),
            }
        } else {
            json!({ "predictions": a.preds })
        };
        out["model"] = model;
        out["upstream"] = Value::String(a.upstream.to_string());
        out["request_id"] = Value::String(a.request_id.to_string());
        serde_json::to_vec(&out).unwrap()
    }

    #[test]
    fn answers_are_written_as_the_value_tree_wrote_them() {
        let plain = Prediction {
            label: json!("setosa"),
            score: None,
            probabilities: None,
        };
        let full = Prediction {
            label: json!(1),
            score: Some(0.75),
            probabilities: Some(json!({"no": 0.25, "yes": 0.75})),
        };
        let nan = Prediction {
            label: json!("x\"y"),
            score: Some(f64::NAN),
            probabilities: Some(json!([0.5, null])),
        };
        let all = [plain.clone(), full.clone(), nan.clone()];
        let cases: Vec<(&[Prediction], bool, Option<&str>)> = vec![
            (std::slice::from_ref(&plain), true, Some("3")),
            (std::slice::from_ref(&full), true, None),
            (std::slice::from_ref(&nan), true, Some("1")),
            (&[], true, None),
            (&all, false, Some("2")),
            (&[], false, None),
        ];
        for (preds, single, version) in cases {
            let a = PredictAnswer {
                preds,
                single,
                model_name: "iris \"v\"",
                model_version: version,
                upstream: "up-1",
                request_id: "r\\1",
            };
            let got = a.to_json();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(answer_via_value(&a)).unwrap()
            );
        }
    }
}
