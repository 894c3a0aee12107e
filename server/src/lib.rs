//! hyper/tokio inference server: MLflow scoring, KServe V2, batching, metrics
