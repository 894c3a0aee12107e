//! MLflow-compatible file store and model registry
