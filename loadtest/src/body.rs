//! Request bodies: none, fixed bytes (e.g. from a file), or generated rows of random floats.

use std::fmt::Write as _;
use std::path::Path;

use bytes::Bytes;

use crate::{Error, Result};

/// The JSON protocol of a generated body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// MLflow scoring protocol: `{"inputs": [[f, ...], ...]}`.
    Mlflow,
    /// Open Inference Protocol (KServe V2): `{"inputs": [{"name", "shape", "datatype": "FP32", "data"}]}`.
    V2,
}

/// What each request carries.
#[derive(Debug, Clone)]
pub enum BodySpec {
    /// No body.
    Empty,
    /// The same bytes in every request.
    Fixed {
        /// The body.
        data: Bytes,
        /// Rows per request, for the rows/s figure.
        rows: u64,
    },
    /// Generated rows of uniform random floats in `[0, 8)`.
    Generated {
        /// Rows per request.
        rows: usize,
        /// Features (columns) per row.
        features: usize,
        /// JSON layout.
        protocol: Protocol,
        /// V2 input tensor name.
        input_name: String,
        /// Seed of the generator (bodies are reproducible).
        seed: u64,
    },
}

impl BodySpec {
    /// Reads a fixed body from a file.
    pub fn from_file(path: &Path, rows: u64) -> Result<Self> {
        let data = std::fs::read(path)
            .map_err(|e| Error::Body(format!("cannot read body file {}: {e}", path.display())))?;
        Ok(BodySpec::Fixed {
            data: Bytes::from(data),
            rows,
        })
    }

    /// Rows carried by one request (1 for a body-less request).
    pub fn rows_per_request(&self) -> u64 {
        match self {
            BodySpec::Empty => 1,
            BodySpec::Fixed { rows, .. } => *rows,
            BodySpec::Generated { rows, .. } => *rows as u64,
        }
    }

    /// Builds the pool of bodies that requests cycle through. Generated bodies come as
    /// [`GENERATED_POOL`] distinct random bodies so that a server cannot cache one answer.
    pub fn build_pool(&self) -> Result<Vec<Bytes>> {
        match self {
            BodySpec::Empty => Ok(vec![Bytes::new()]),
            BodySpec::Fixed { data, .. } => Ok(vec![data.clone()]),
            BodySpec::Generated {
                rows,
                features,
                protocol,
                input_name,
                seed,
            } => {
                if *rows == 0 || *features == 0 {
                    return Err(Error::Body("rows and features must be at least 1".into()));
                }
                if rows.saturating_mul(*features) > 50_000_000 {
                    return Err(Error::Body(format!(
                        "{rows} rows x {features} features is too large a body"
                    )));
                }
                let mut rng = fastrand::Rng::with_seed(*seed);
                Ok((0..GENERATED_POOL)
                    .map(|_| {
                        Bytes::from(generate(&mut rng, *rows, *features, *protocol, input_name))
                    })
                    .collect())
            }
        }
    }
}

/// How many distinct generated bodies requests cycle through.
pub const GENERATED_POOL: usize = 64;

fn generate(
    rng: &mut fastrand::Rng,
    rows: usize,
    features: usize,
    protocol: Protocol,
    input_name: &str,
) -> String {
    let mut s = String::with_capacity(rows * features * 6 + 64);
    let mut value = |s: &mut String| {
        // Two decimals keep bodies short and exactly representable in FP32-ish magnitudes.
        let v = (rng.f64() * 800.0).round() / 100.0;
        let _ = write!(s, "{v}");
    };
    match protocol {
        Protocol::Mlflow => {
            s.push_str("{\"inputs\": [");
            for r in 0..rows {
                if r > 0 {
                    s.push_str(", ");
                }
                s.push('[');
                for f in 0..features {
                    if f > 0 {
                        s.push_str(", ");
                    }
                    value(&mut s);
                }
                s.push(']');
            }
            s.push_str("]}");
        }
        Protocol::V2 => {
            let name = serde_json::Value::String(input_name.to_string()).to_string();
            let _ = write!(
                s,
                "{{\"inputs\": [{{\"name\": {name}, \"shape\": [{rows}, {features}], \"datatype\": \"FP32\", \"data\": ["
            );
            for i in 0..rows * features {
                if i > 0 {
                    s.push_str(", ");
                }
                value(&mut s);
            }
            s.push_str("]}]}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(protocol: Protocol) -> BodySpec {
        BodySpec::Generated {
            rows: 3,
            features: 4,
            protocol,
            input_name: "float_input".into(),
            seed: 7,
        }
    }

    #[test]
    fn mlflow_body_shape() {
        let pool = spec(Protocol::Mlflow).build_pool().unwrap();
        assert_eq!(pool.len(), GENERATED_POOL);
        let v: serde_json::Value = serde_json::from_slice(&pool[0]).unwrap();
        let rows = v["inputs"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        for r in rows {
            let r = r.as_array().unwrap();
            assert_eq!(r.len(), 4);
            for x in r {
                let x = x.as_f64().unwrap();
                assert!((0.0..=8.0).contains(&x));
            }
        }
        assert_ne!(pool[0], pool[1]);
    }

    #[test]
    fn v2_body_shape() {
        let pool = spec(Protocol::V2).build_pool().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&pool[0]).unwrap();
        let input = &v["inputs"][0];
        assert_eq!(input["name"], "float_input");
        assert_eq!(input["datatype"], "FP32");
        assert_eq!(input["shape"], serde_json::json!([3, 4]));
        assert_eq!(input["data"].as_array().unwrap().len(), 12);
    }

    #[test]
    fn reproducible_and_bounded() {
        let a = spec(Protocol::Mlflow).build_pool().unwrap();
        let b = spec(Protocol::Mlflow).build_pool().unwrap();
        assert_eq!(a, b);
        let bad = BodySpec::Generated {
            rows: 0,
            features: 4,
            protocol: Protocol::Mlflow,
            input_name: "x".into(),
            seed: 1,
        };
        assert!(bad.build_pool().is_err());
    }
}
