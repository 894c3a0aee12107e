//! Logging a model directory and run artifacts through a tracking server, the way MLflow 3's client
//! does: `POST logged-models` (PENDING), one `PUT` per file to the proxy under the logged model's
//! `mlflow-artifacts:/<exp>/models/<id>/artifacts`, `PATCH` it READY, `runs/outputs` links it to the
//! run, and registering is `registered-models/create` (an existing name is fine) then
//! `model-versions/create` with `source = models:/<id>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::handle::{proxy_path, RestStore};
use crate::api::{
    CreateLoggedModel, CreateModelVersion, CreateRegisteredModel, LoggedModelStatus, ModelOutput,
    TrackingStore,
};
use crate::artifacts::path::safe_relative_path;
use crate::artifacts::store::ArtifactStore;
use crate::entities::{LogModelOptions, LoggedModel};
use crate::error::{Result, TrackingError};

/// Every file under `dir` as (`/`-separated relative path, absolute path), sorted.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((rel, abs)) = stack.pop() {
        let rd = std::fs::read_dir(&abs).map_err(|e| TrackingError::io(&abs, e))?;
        for e in rd {
            let e = e.map_err(|e| TrackingError::io(&abs, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let t = e
                .file_type()
                .map_err(|err| TrackingError::io(e.path(), err))?;
            if t.is_dir() {
                stack.push((r, e.path()));
            } else {
                out.push((r, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl RestStore {
    /// The proxy path of a run's artifact folder.
    fn run_artifact_root(&self, run_id: &str) -> Result<String> {
        let run = self.get_run(run_id)?;
        proxy_path(&run.info.artifact_uri).ok_or_else(|| TrackingError::BadUri {
            uri: run.info.artifact_uri.clone(),
            reason: "the run's artifacts are not behind the server's artifact proxy (mlflow-artifacts:/); homeml cannot upload there".into(),
        })
    }

    /// Uploads bytes as the run artifact `artifact_path` (e.g. `notes/summary.json`).
    pub fn log_artifact_bytes(
        &self,
        run_id: &str,
        artifact_path: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let rel = safe_relative_path(artifact_path)?;
        let root = self.run_artifact_root(run_id)?;
        self.artifacts()
            .put_bytes(&format!("{root}/{rel}"), bytes)?;
        Ok(())
    }

    /// Uploads every file of `dir` under the run artifact folder `artifact_path` (`""`: the root).
    pub fn log_artifacts(&self, run_id: &str, dir: &Path, artifact_path: &str) -> Result<()> {
        let base = safe_relative_path(artifact_path)?;
        let root = self.run_artifact_root(run_id)?;
        let artifacts = self.artifacts();
        for (rel, abs) in files_under(dir)? {
            let mut f = std::fs::File::open(&abs).map_err(|e| TrackingError::io(&abs, e))?;
            let dest = [root.as_str(), base.as_str(), rel.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/");
            artifacts.put(&dest, &mut f)?;
        }
        Ok(())
    }

    /// Logs the model directory `model_dir` (holding an `MLmodel`) as an MLflow 3 logged model of
    /// the run named `name`, and registers it when `opts.register_as` is set. The returned
    /// `artifact_dir` is `model_dir` (the files live on the server, at `artifact_location`).
    pub fn log_model(
        &self,
        run_id: &str,
        name: &str,
        model_dir: &Path,
        opts: LogModelOptions,
    ) -> Result<LoggedModel> {
        let mut mlmodel = crate::models::read_model_to_log(name, model_dir, &opts)?;
        let run = self.get_run(run_id)?;
        let mut tags = BTreeMap::new();
        for k in [
            crate::runs::TAG_USER,
            crate::runs::TAG_SOURCE_NAME,
            crate::runs::TAG_SOURCE_TYPE,
        ] {
            if let Some(v) = run.data.tags.get(k) {
                tags.insert(k.to_string(), v.clone());
            }
        }
        let lm = self.create_logged_model(CreateLoggedModel {
            experiment_id: run.info.experiment_id.clone(),
            name: Some(name.to_string()),
            model_type: None,
            source_run_id: Some(run_id.to_string()),
            params: run.data.params.clone(),
            tags,
        })?;
        let mut upload = || -> Result<()> {
            let root = proxy_path(&lm.artifact_location).ok_or_else(|| TrackingError::BadUri {
                uri: lm.artifact_location.clone(),
                reason: "the logged model's artifacts are not behind the server's artifact proxy (mlflow-artifacts:/)".into(),
            })?;
            crate::models::stamp_mlmodel(
                &mut mlmodel,
                run_id,
                &lm.model_id,
                &lm.artifact_location,
                model_dir,
            );
            let text = mlmodel.to_yaml().map_err(|source| TrackingError::Model {
                path: model_dir.to_path_buf(),
                source,
            })?;
            let artifacts = self.artifacts();
            for (rel, abs) in files_under(model_dir)? {
                if rel == homeml_flavor::mlmodel::MLMODEL_FILE {
                    continue;
                }
                let mut f = std::fs::File::open(&abs).map_err(|e| TrackingError::io(&abs, e))?;
                artifacts.put(&format!("{root}/{rel}"), &mut f)?;
            }
            // The MLmodel last: a reader that sees it sees every other file.
            artifacts.put_bytes(
                &format!("{root}/{}", homeml_flavor::mlmodel::MLMODEL_FILE),
                text.as_bytes(),
            )?;
            Ok(())
        };
        if let Err(e) = upload() {
            let _ = self.finalize_logged_model(&lm.model_id, LoggedModelStatus::Failed);
            return Err(e);
        }
        self.finalize_logged_model(&lm.model_id, LoggedModelStatus::Ready)?;
        self.log_outputs(
            run_id,
            &[ModelOutput {
                model_id: lm.model_id.clone(),
                step: 0,
            }],
        )?;
        let mut logged = LoggedModel {
            model_id: lm.model_id.clone(),
            name: name.to_string(),
            experiment_id: run.info.experiment_id.clone(),
            run_id: Some(run_id.to_string()),
            artifact_dir: model_dir.to_path_buf(),
            artifact_location: lm.artifact_location.clone(),
            registered_name: None,
            registered_version: None,
        };
        if let Some(reg) = opts.register_as {
            match self.create_registered_model(CreateRegisteredModel {
                name: reg.clone(),
                ..Default::default()
            }) {
                Ok(_) | Err(TrackingError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
            let mv = self.create_model_version(CreateModelVersion {
                name: reg.clone(),
                source: format!("models:/{}", lm.model_id),
                run_id: Some(run_id.to_string()),
                model_id: Some(lm.model_id.clone()),
                ..Default::default()
            })?;
            logged.registered_name = Some(reg);
            logged.registered_version = Some(mv.version);
        }
        Ok(logged)
    }
}
