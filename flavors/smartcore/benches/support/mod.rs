//! What the smartcore and linfa predict benches share (homeml-linfa's bench includes this file by path):
//! the bundled data sets, the save -> load round trip through a `FlavorRegistry`, and the timed loop.

use std::path::Path;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use homeml_flavor::{
    ColumnType, DType, Flavor, FlavorError, FlavorRegistry, LoadOptions, MlModel, Model, Schema,
    Signature, Tensor,
};

/// The batch sizes every flavor is timed at.
pub const BATCHES: [usize; 4] = [1, 8, 64, 256];
/// Trees per forest and their depth: the sizes of the ONNX flavor's forest benches (bench/onnx.md).
pub const TREES: usize = 100;
/// See [`TREES`].
pub const DEPTH: usize = 8;

/// A numeric CSV with a header, bundled in data/: row-major features and the last column.
pub struct Table {
    /// Features, row-major.
    pub x: Vec<f64>,
    /// The last column (label or target).
    pub y: Vec<f64>,
    /// Features per row.
    pub cols: usize,
}

impl Table {
    /// Reads `data/<name>`.
    pub fn read(name: &str) -> Table {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("read the bundled data set");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let vals: Vec<f64> = line
                .split(',')
                .map(|v| v.parse().expect("a number"))
                .collect();
            let (last, feats) = vals.split_last().expect("a non-empty row");
            x.extend_from_slice(feats);
            y.push(*last);
        }
        let cols = x.len() / y.len();
        Table { x, y, cols }
    }

    /// Rows in the data set.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// `rows` rows cycled from the data set, as the f64 tensor a column signature decodes to.
    pub fn batch(&self, rows: usize) -> Tensor {
        let mut out = Vec::with_capacity(rows * self.cols);
        for r in 0..rows {
            let src = r % self.rows();
            out.extend_from_slice(&self.x[src * self.cols..(src + 1) * self.cols]);
        }
        Tensor::f64_matrix(rows, self.cols, out).expect("batch tensor")
    }
}

/// Saves a model with `save` (given the directory and a column signature of `cols` doubles with
/// outputs of dtype `out`) to a temporary directory and loads it through a registry holding `flavor`,
/// as the server does.
pub fn save_and_load(
    flavor: Arc<dyn Flavor>,
    cols: usize,
    out: DType,
    save: impl FnOnce(&Path, &Signature) -> Result<MlModel, FlavorError>,
) -> Arc<dyn Model> {
    let names: Vec<String> = (0..cols).map(|i| format!("f{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let signature = Signature::new(
        Schema::columns(&names, ColumnType::Double),
        Schema::tensor(None, out, vec![-1]),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("model");
    save(&dir, &signature).expect("save_model");
    let mut registry = FlavorRegistry::new();
    registry.register(flavor, "built-in").expect("register");
    registry
        .load_dir(&dir, &LoadOptions::default())
        .expect("load the saved model")
        .model
}

/// Times `predict` of each `(name, model, data)` at every batch size in the criterion group `group`.
pub fn bench_predict(c: &mut Criterion, group: &str, models: &[(&str, Arc<dyn Model>, &Table)]) {
    let mut g = c.benchmark_group(group);
    for (name, model, data) in models {
        for rows in BATCHES {
            let input = data.batch(rows);
            // Not a timing: a guard that the bench times a call that answers every row.
            let out = model.predict(vec![input.clone()]).expect("predict");
            assert!(out.iter().all(|t| t.rows() == rows), "{name}: wrong rows");
            g.throughput(Throughput::Elements(rows as u64));
            g.bench_with_input(BenchmarkId::new(*name, rows), &input, |b, input| {
                b.iter_batched(
                    || vec![input.clone()],
                    |inputs| model.predict(inputs).expect("predict"),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}
