//! MLflow 3 logged models: `<exp>/models/m-<id>/{meta.yaml, artifacts/, params/, metrics/, tags/}`,
//! linked from the run's `outputs/<model_id>/meta.yaml`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use homeml_flavor::MlModel;

use crate::entities::{LogModelOptions, LoggedModel};
use crate::error::{Result, TrackingError};
use crate::fsx;
use crate::meta::Meta;
use crate::names;
use crate::store::{Store, META};
use crate::util;

/// The MLflow version whose file formats homeml writes (`mlflow_version` in MLmodel).
pub const MLFLOW_VERSION: &str = "3.17.2";

fn dir_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Checks a `log_model` call's names (the model's, and the registered model's if any) and reads the
/// `MLmodel` of the directory to log: the first step of logging a model on every store.
pub(crate) fn read_model_to_log(
    name: &str,
    model_dir: &Path,
    opts: &LogModelOptions,
) -> Result<MlModel> {
    names::validate_key("model name", name)?;
    if let Some(reg) = &opts.register_as {
        names::validate_model_name(reg)?;
    }
    MlModel::read_dir(model_dir).map_err(|source| TrackingError::Model {
        path: model_dir.to_path_buf(),
        source,
    })
}

/// Fills what MLflow writes into a logged copy's MLmodel: `run_id`, `model_id`, `model_uuid`,
/// `artifact_path`, `utc_time_created`, `mlflow_version` and `model_size_bytes` (of `dir`).
pub(crate) fn stamp_mlmodel(
    mlmodel: &mut MlModel,
    run_id: &str,
    model_id: &str,
    artifact_location: &str,
    dir: &Path,
) {
    mlmodel.run_id = Some(run_id.to_string());
    mlmodel.model_id = Some(model_id.to_string());
    mlmodel.model_uuid = Some(model_id.to_string());
    mlmodel.artifact_path = Some(artifact_location.to_string());
    mlmodel.utc_time_created = Some(util::utc_time_created());
    mlmodel.mlflow_version = Some(MLFLOW_VERSION.to_string());
    mlmodel
        .extra
        .insert("model_size_bytes".into(), dir_size(dir).into());
}

impl Store {
    /// Logs an MLflow model directory (holding an `MLmodel` a flavor wrote) as an MLflow 3 logged model
    /// of the run, and registers it when `opts.register_as` is set.
    ///
    /// The copy's MLmodel gets `run_id`, `model_id`, `model_uuid`, `artifact_path`,
    /// `utc_time_created`, `mlflow_version` and `model_size_bytes`, as MLflow writes them.
    pub fn log_model(
        &self,
        run_id: &str,
        name: &str,
        model_dir: &Path,
        opts: LogModelOptions,
    ) -> Result<LoggedModel> {
        let mut mlmodel = read_model_to_log(name, model_dir, &opts)?;
        let run_dir = self.active_run_dir(run_id)?;
        let info = self.get_run_info(run_id)?;
        let exp_dir = self.experiment_dir(&info.experiment_id)?;
        let models_dir = exp_dir.join("models");
        std::fs::create_dir_all(&models_dir).map_err(|e| TrackingError::io(&models_dir, e))?;

        let model_id = format!("m-{}", util::hex_id());
        let final_dir = models_dir.join(&model_id);
        let artifacts = final_dir.join("artifacts");
        let artifact_location = util::file_uri(&artifacts);
        let now = util::now_ms();

        // Assemble beside the final place, then rename in whole.
        let tmp = fsx::tmp_path(&models_dir);
        let tmp_artifacts = tmp.join("artifacts");
        fsx::copy_tree(model_dir, &tmp_artifacts)?;
        stamp_mlmodel(
            &mut mlmodel,
            run_id,
            &model_id,
            &artifact_location,
            &tmp_artifacts,
        );
        mlmodel
            .write_dir(&tmp_artifacts)
            .map_err(|source| TrackingError::Model {
                path: tmp_artifacts.clone(),
                source,
            })?;
        for sub in ["params", "metrics", "tags"] {
            let p = tmp.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| TrackingError::io(&p, e))?;
        }
        // The model carries its run's params and the source tags, as MLflow 3 does.
        for (k, v) in fsx::read_kv_dir(&run_dir.join("params"))? {
            let p = tmp.join("params").join(&k);
            fsx::ensure_parent(&p)?;
            std::fs::write(&p, v).map_err(|e| TrackingError::io(&p, e))?;
        }
        let run_tags = fsx::read_kv_dir(&run_dir.join("tags"))?;
        for k in [
            crate::runs::TAG_USER,
            crate::runs::TAG_SOURCE_NAME,
            crate::runs::TAG_SOURCE_TYPE,
            crate::runs::TAG_GIT_COMMIT,
            crate::runs::TAG_GIT_BRANCH,
            crate::runs::TAG_GIT_REPO_URL,
        ] {
            if let Some(v) = run_tags.get(k) {
                let p = tmp.join("tags").join(k);
                std::fs::write(&p, v).map_err(|e| TrackingError::io(&p, e))?;
            }
        }
        let mut m = Meta::default();
        m.set("artifact_location", artifact_location.as_str())
            .set("creation_timestamp", now)
            .set("experiment_id", info.experiment_id.as_str())
            .set("last_updated_timestamp", now)
            .set("model_id", model_id.as_str())
            .set("model_type", Value::Null)
            .set("name", name)
            .set("source_run_id", run_id)
            .set("status", 2)
            .set("status_message", Value::Null);
        self.write_meta(&m, &tmp.join(META))?;
        std::fs::rename(&tmp, &final_dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            TrackingError::io(&final_dir, e)
        })?;

        let mut link = Meta::default();
        link.set("destination_id", model_id.as_str())
            .set("destination_type", "MODEL_OUTPUT")
            .set("source_id", model_id.as_str())
            .set("source_type", "RUN_OUTPUT")
            .set("step", 0)
            .set("tags", Value::Object(Default::default()));
        self.write_meta(&link, &run_dir.join("outputs").join(&model_id).join(META))?;
        tracing::debug!(model_id = %model_id, run_id, "logged model");

        let mut logged = LoggedModel {
            model_id: model_id.clone(),
            name: name.to_string(),
            experiment_id: info.experiment_id.clone(),
            run_id: Some(run_id.to_string()),
            artifact_dir: artifacts,
            artifact_location,
            registered_name: None,
            registered_version: None,
        };
        if let Some(reg) = opts.register_as {
            if let Err(e) = self.create_registered_model(&reg) {
                if !matches!(e, TrackingError::AlreadyExists { .. }) {
                    return Err(e);
                }
            }
            let mv = self.create_model_version(&reg, &format!("models:/{model_id}"))?;
            // As Python's json.dumps writes it.
            let tag = format!(
                "[{{\"name\": {}, \"version\": {}}}]",
                Value::String(reg.clone()),
                mv.version
            );
            self.write_value(&final_dir.join("tags").join("mlflow.modelVersions"), &tag)?;
            logged.registered_name = Some(reg);
            logged.registered_version = Some(mv.version);
        }
        Ok(logged)
    }

    /// The folder of a logged model (`<exp>/models/<model_id>`), looked up in every experiment.
    pub(crate) fn logged_model_dir(&self, model_id: &str) -> Result<PathBuf> {
        names::validate_id("logged model id", model_id)?;
        for exp in self.experiment_dirs()? {
            let dir = exp.join("models").join(model_id);
            if dir.join(META).is_file() {
                return Ok(dir);
            }
        }
        Err(TrackingError::not_found("logged model", model_id))
    }

    /// A logged model by id.
    pub fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let dir = self.logged_model_dir(model_id)?;
        let path = dir.join(META);
        let m = self.read_meta(&path, "logged model", model_id)?;
        let artifact_location = m
            .str("artifact_location")
            .unwrap_or_else(|| util::file_uri(&dir.join("artifacts")));
        let artifact_dir =
            util::uri_to_path(&artifact_location).ok_or_else(|| TrackingError::BadUri {
                uri: artifact_location.clone(),
                reason: format!("logged model {model_id} is stored in a non-local location"),
            })?;
        Ok(LoggedModel {
            model_id: m.str("model_id").unwrap_or_else(|| model_id.to_string()),
            name: m.str("name").unwrap_or_default(),
            experiment_id: m.req_str("experiment_id", "logged model", &path)?,
            run_id: m.str("source_run_id"),
            artifact_dir,
            artifact_location,
            registered_name: None,
            registered_version: None,
        })
    }

    /// The logged models of an experiment.
    pub fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModel>> {
        let dir = self.experiment_dir(experiment_id)?.join("models");
        let mut out = Vec::new();
        for (name, is_dir) in fsx::list_names(&dir)? {
            if is_dir && name.starts_with("m-") && dir.join(&name).join(META).is_file() {
                out.push(self.get_logged_model(&name)?);
            }
        }
        Ok(out)
    }
}
