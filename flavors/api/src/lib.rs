//! homeml-flavor: the contract between model engines and the server.
//!
//! - [`tensor`]: typed, batch-first tensors ([`Tensor`], [`DType`]).
//! - [`signature`]: MLflow model signatures (column and tensor schemas).
//! - [`mlmodel`]: the `MLmodel` descriptor of an MLflow model directory, read and written.
//! - [`model`]: the [`Flavor`] and [`Model`] traits that every engine implements.
//! - [`registry`]: picks the flavor that loads a model directory.
//! - [`plugin`]: the C ABI of flavor plugins: loading them, and the safe side for writing one.
//!
//! - [`save`]: writes model directories (the save side of every flavor).
//! - [`tabular`], [`stored`]: what tabular families (smartcore, linfa) share: request checks, and
//!   loading and saving a model kept as one data file.
//!
//! This crate has no heavy dependencies: engines depend on it, never the other way round.

pub mod error;
pub mod mlmodel;
pub mod model;
pub mod plugin;
pub mod registry;
pub mod save;
pub mod signature;
pub mod stored;
pub mod tabular;
pub mod tensor;
pub mod yaml;

pub use error::FlavorError;
pub use mlmodel::MlModel;
pub use model::{Flavor, IoSpec, LoadContext, LoadOptions, Model};
pub use registry::{FlavorInfo, FlavorRegistry, LoadedModel};
pub use save::{ModelDirWriter, TabularLayout};
pub use signature::{ColSpec, ColumnType, Schema, Signature, TensorSpec};
pub use tensor::{DType, Tensor, TensorData, TensorError};
