//! An example flavor plugin for homeml: a nearest-centroid classifier served through homeml's plugin
//! C ABI, the template for plugin authors (see `flavors/README.md`).
//!
//! The model directory holds `MLmodel` with a `nearest_centroid` flavor entry
//! (`{data: centroids.json, plugin: homeml-plugin-example, plugin_version: ...}`) and the JSON file it
//! names: `{"classes": [0, 1, ...], "centroids": [[...], ...]}`. The model takes one input `features`
//! (float64, `[-1, n_features]`; other numeric dtypes are converted) and returns one output `label`
//! (int64, `[-1]`): the class whose centroid is nearest in Euclidean distance (the first on a tie).
//!
//! Built as a `cdylib` the crate is the plugin (`libhomeml_plugin_example.so`); as an `rlib` it offers
//! [`NearestCentroid::fit`] and [`save_model`] to make such model directories.

use std::path::Path;
use std::sync::Arc;

use homeml_flavor::plugin::PluginFlavor;
use homeml_flavor::{
    DType, FlavorError, IoSpec, LoadContext, Model, ModelDirWriter, Schema, Signature, Tensor,
    TensorData,
};
use serde::{Deserialize, Serialize};

/// The MLmodel flavor name this plugin serves.
pub const FLAVOR_NAME: &str = "nearest_centroid";

/// The parameters file a model directory holds by default.
pub const DATA_FILE: &str = "centroids.json";

/// Errors of fitting or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The training data cannot make a model.
    #[error("cannot fit: {0}")]
    BadData(String),
    /// Writing the model directory failed.
    #[error(transparent)]
    Save(#[from] FlavorError),
}

/// A nearest-centroid classifier: one mean point per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearestCentroid {
    /// Class labels, one per centroid.
    pub classes: Vec<i64>,
    /// The centroids, one row of `n_features` values per class.
    pub centroids: Vec<Vec<f64>>,
}

impl NearestCentroid {
    /// Fits the classifier: the mean of each class's rows. Classes are sorted by label.
    pub fn fit(rows: &[Vec<f64>], labels: &[i64]) -> Result<NearestCentroid, FitError> {
        if rows.is_empty() || rows.len() != labels.len() {
            return Err(FitError::BadData(format!(
                "{} rows and {} labels",
                rows.len(),
                labels.len()
            )));
        }
        let width = rows[0].len();
        if width == 0 || rows.iter().any(|r| r.len() != width) {
            return Err(FitError::BadData("rows of different or zero width".into()));
        }
        let mut classes: Vec<i64> = labels.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let mut sums = vec![vec![0.0; width]; classes.len()];
        let mut counts = vec![0usize; classes.len()];
        for (row, label) in rows.iter().zip(labels) {
            // `classes` holds every label, so the search always finds it.
            let Ok(k) = classes.binary_search(label) else {
                continue;
            };
            counts[k] += 1;
            for (s, x) in sums[k].iter_mut().zip(row) {
                *s += x;
            }
        }
        let centroids = sums
            .into_iter()
            .zip(counts)
            .map(|(s, n)| s.into_iter().map(|x| x / n as f64).collect())
            .collect();
        Ok(NearestCentroid { classes, centroids })
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.centroids.first().map_or(0, Vec::len)
    }

    /// Checks that the parameters make a model.
    pub fn validate(&self) -> Result<(), String> {
        if self.classes.is_empty() || self.classes.len() != self.centroids.len() {
            return Err(format!(
                "{} classes and {} centroids",
                self.classes.len(),
                self.centroids.len()
            ));
        }
        let width = self.n_features();
        if width == 0 || self.centroids.iter().any(|c| c.len() != width) {
            return Err("centroids of different or zero width".into());
        }
        Ok(())
    }

    /// The label of the nearest centroid for each row of a row-major `[rows, n_features]` buffer.
    pub fn predict_rows(&self, data: &[f64]) -> Vec<i64> {
        let width = self.n_features().max(1);
        data.chunks_exact(width)
            .map(|row| {
                let mut best = (f64::INFINITY, self.classes[0]);
                for (c, label) in self.centroids.iter().zip(&self.classes) {
                    let d: f64 = c.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum();
                    if d < best.0 {
                        best = (d, *label);
                    }
                }
                best.1
            })
            .collect()
    }
}

/// Writes a model directory at `dir` (which must not exist or be empty): the parameters file, a
/// tensor signature and `MLmodel` with the `nearest_centroid` flavor.
pub fn save_model(dir: &Path, model: &NearestCentroid) -> Result<(), FitError> {
    model.validate().map_err(FitError::BadData)?;
    let mut writer = ModelDirWriter::create(dir)?;
    let json = serde_json::to_vec_pretty(model)
        .map_err(|e| FitError::BadData(format!("cannot encode the parameters: {e}")))?;
    writer.write_file(DATA_FILE, &json)?;
    writer.flavor(
        FLAVOR_NAME,
        serde_json::json!({
            "data": DATA_FILE,
            "plugin": env!("CARGO_PKG_NAME"),
            "plugin_version": env!("CARGO_PKG_VERSION"),
        }),
    );
    writer.signature(&Signature::new(
        Schema::tensor(
            Some("features"),
            DType::F64,
            vec![-1, model.n_features() as i64],
        ),
        Schema::tensor(Some("label"), DType::I64, vec![-1]),
    ));
    writer.finish()?;
    Ok(())
}

/// A loaded nearest-centroid model.
#[derive(Debug)]
pub struct NearestCentroidModel {
    params: NearestCentroid,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl NearestCentroidModel {
    /// Wraps checked parameters.
    pub fn new(params: NearestCentroid) -> Result<NearestCentroidModel, FlavorError> {
        params.validate().map_err(FlavorError::InvalidModel)?;
        let width = params.n_features() as i64;
        Ok(NearestCentroidModel {
            params,
            inputs: vec![IoSpec::new("features", DType::F64, vec![-1, width])],
            outputs: vec![IoSpec::new("label", DType::I64, vec![-1])],
        })
    }
}

impl Model for NearestCentroidModel {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, FlavorError> {
        let [x]: [Tensor; 1] = inputs.try_into().map_err(|v: Vec<Tensor>| {
            FlavorError::InvalidInput(format!("expected 1 input tensor, got {}", v.len()))
        })?;
        let width = self.params.n_features();
        if x.shape().len() != 2 || x.shape()[1] != width {
            return Err(FlavorError::InvalidInput(format!(
                "features must have shape [rows, {width}], got {:?}",
                x.shape()
            )));
        }
        let rows = x.shape()[0];
        let TensorData::F64(data) = x.cast(DType::F64)?.into_data() else {
            return Err(FlavorError::Engine(
                "cast to float64 gave another dtype".into(),
            ));
        };
        let labels = self.params.predict_rows(&data);
        Ok(vec![Tensor::new(vec![rows], TensorData::I64(labels))?])
    }
}

/// The plugin: serves [`FLAVOR_NAME`].
pub struct NearestCentroidPlugin;

impl PluginFlavor for NearestCentroidPlugin {
    const PLUGIN_NAME: &'static str = env!("CARGO_PKG_NAME");
    const PLUGIN_VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const FLAVORS: &'static [&'static str] = &[FLAVOR_NAME];

    fn load(_flavor: &str, ctx: &LoadContext<'_>) -> Result<Arc<dyn Model>, FlavorError> {
        let path = ctx.data_path("data")?;
        let bytes = std::fs::read(&path).map_err(|e| FlavorError::io(&path, e))?;
        let params: NearestCentroid = serde_json::from_slice(&bytes)
            .map_err(|e| FlavorError::InvalidModel(format!("{}: {e}", path.display())))?;
        Ok(Arc::new(NearestCentroidModel::new(params)?))
    }
}

homeml_flavor::export_flavor!(NearestCentroidPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn iris_like() -> (Vec<Vec<f64>>, Vec<i64>) {
        let rows = vec![
            vec![5.1, 3.5, 1.4, 0.2],
            vec![4.9, 3.0, 1.4, 0.2],
            vec![7.0, 3.2, 4.7, 1.4],
            vec![6.4, 3.2, 4.5, 1.5],
            vec![6.3, 3.3, 6.0, 2.5],
            vec![5.8, 2.7, 5.1, 1.9],
        ];
        (rows, vec![0, 0, 1, 1, 2, 2])
    }

    #[test]
    fn fits_means_and_predicts_the_nearest() {
        let (rows, labels) = iris_like();
        let m = NearestCentroid::fit(&rows, &labels).unwrap();
        assert_eq!(m.classes, vec![0, 1, 2]);
        assert!((m.centroids[0][0] - 5.0).abs() < 1e-12);
        let flat: Vec<f64> = rows.concat();
        assert_eq!(m.predict_rows(&flat), labels);
    }

    #[test]
    fn refuses_bad_training_data() {
        assert!(NearestCentroid::fit(&[vec![1.0]], &[0, 1]).is_err());
        assert!(NearestCentroid::fit(&[vec![1.0], vec![1.0, 2.0]], &[0, 1]).is_err());
    }

    #[test]
    fn model_checks_its_input_shape() {
        let (rows, labels) = iris_like();
        let m = NearestCentroidModel::new(NearestCentroid::fit(&rows, &labels).unwrap()).unwrap();
        let err = m
            .predict(vec![Tensor::f64_matrix(1, 3, vec![1.0, 2.0, 3.0]).unwrap()])
            .unwrap_err();
        assert!(err.is_client_error(), "{err}");
        let out = m
            .predict(vec![
                Tensor::f32_matrix(1, 4, vec![6.5, 3.0, 5.8, 2.2]).unwrap()
            ])
            .unwrap();
        assert_eq!(out[0].data(), &TensorData::I64(vec![2]));
    }

    #[test]
    fn saves_a_model_directory() {
        let (rows, labels) = iris_like();
        let m = NearestCentroid::fit(&rows, &labels).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let model_dir = dir.path().join("model");
        save_model(&model_dir, &m).unwrap();
        let mlmodel = homeml_flavor::MlModel::read_dir(&model_dir).unwrap();
        assert_eq!(mlmodel.flavor(FLAVOR_NAME).unwrap()["data"], DATA_FILE);
        let back: NearestCentroid =
            serde_json::from_slice(&std::fs::read(model_dir.join(DATA_FILE)).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
