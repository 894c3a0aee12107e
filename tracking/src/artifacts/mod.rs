//! The artifact store trait the tracking server's artifact proxy works through (local files now;
//! object stores later), and MLflow's path-safety rules for the paths it is given.

mod local;
mod path;
mod store;

pub use local::LocalArtifactStore;
pub use path::safe_relative_path;
pub use store::{ArtifactReader, ArtifactStore};
