//! The model side the tree flavors share: their one input, checked against the MLmodel signature.

use homeml_flavor::tabular::TabularIo;
use homeml_flavor::{FlavorError, LoadContext, Schema};

/// The name of a tree model's one input (f64 `[-1, n_features]`).
pub const INPUT_NAME: &str = "input";

/// The input specs of a `family` model with `n_features` features, after checking that the MLmodel
/// signature (when it has one) gives that many columns, or a `[-1, n_features]` tensor: a model and a
/// signature that disagree are refused at load rather than failing every request.
pub fn tabular_io(
    family: &'static str,
    ctx: &LoadContext<'_>,
    n_features: usize,
) -> Result<TabularIo, FlavorError> {
    let signature = ctx.mlmodel.signature()?;
    let width = match signature.as_ref().and_then(|s| s.inputs.as_ref()) {
        Some(Schema::Columns(cols)) if !cols.is_empty() => Some(cols.len() as i64),
        Some(Schema::Tensors(ts)) if ts.len() == 1 && ts[0].shape.len() == 2 => {
            Some(ts[0].shape[1])
        }
        _ => None,
    };
    if let Some(w) = width.filter(|&w| w >= 0 && w as usize != n_features) {
        return Err(FlavorError::InvalidModel(format!(
            "{}: the signature has {w} input columns, the {family} model {n_features} features",
            ctx.model_dir.display()
        )));
    }
    TabularIo::new(family, INPUT_NAME, n_features)
}
