//! The artifact store trait (where artifact bytes live: a local folder or an object store such as
//! `s3://`, `gs://`, `az://`), MLflow's path-safety rules for the paths it is given, and
//! [`open_artifact_store`] choosing the implementation from a URI.

pub(crate) mod cache_entry;
mod local;
pub(crate) mod location;
mod model_cache;
mod object;
pub(crate) mod path;
mod remote;
mod runtime;
pub(crate) mod store;

use std::sync::Arc;

pub use local::LocalArtifactStore;
pub use model_cache::fetch_model_dir;
pub use object::{ObjectArtifactStore, ObjectEntry};
pub use path::safe_relative_path;
pub use remote::{is_object_store_uri, ObjectStoreKind, ObjectUri};
pub use store::{ArtifactReader, ArtifactStore};

/// The artifact store at `uri`: an object store for `s3://`, `gs://`, `az://`, `abfss://`,
/// `wasbs://`, else a local folder (a path or `file://` URI, created if missing).
pub fn open_artifact_store(uri: &str) -> crate::error::Result<Arc<dyn ArtifactStore>> {
    if is_object_store_uri(uri) {
        return Ok(Arc::new(ObjectArtifactStore::open(uri)?));
    }
    Ok(Arc::new(LocalArtifactStore::open(uri)?))
}
