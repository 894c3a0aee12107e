//! The predict side shared by tabular flavors (smartcore, linfa): models over one f64 feature matrix
//! `[-1, F]`. [`TabularIo`] holds such a model's input and output specs and makes the checks every one of
//! them makes on a request; [`catch_engine_panic`] turns a panic of engine code into an engine error.
//! Their load and save steps are [`crate::stored`]; the input layout read from a signature is
//! [`crate::save::TabularLayout`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::FlavorError;
use crate::model::IoSpec;
use crate::tensor::{DType, Tensor, TensorData};

/// The most input features a tabular model may declare (a bound on what a damaged file can make us
/// allocate).
pub const MAX_FEATURES: usize = 1 << 20;

/// The inputs and outputs of a tabular model: one f64 input `[-1, n_features]` and the outputs learnt
/// from one run of the model (see [`TabularIo::set_outputs_from_probe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabularIo {
    family: &'static str,
    n_features: usize,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

impl TabularIo {
    /// The specs of a `family` model (e.g. `smartcore`, named in errors) whose one input `input_name`
    /// takes `n_features` features, with no outputs yet. Fails unless `1 <= n_features <=`
    /// [`MAX_FEATURES`].
    pub fn new(
        family: &'static str,
        input_name: &str,
        n_features: usize,
    ) -> Result<TabularIo, FlavorError> {
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(FlavorError::InvalidModel(format!(
                "a {family} model needs between 1 and 2^20 features, not {n_features}"
            )));
        }
        Ok(TabularIo {
            family,
            n_features,
            inputs: vec![IoSpec::new(
                input_name,
                DType::F64,
                vec![-1, n_features as i64],
            )],
            outputs: Vec::new(),
        })
    }

    /// The number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The one input spec, for [`crate::Model::inputs`].
    pub fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    /// The output specs, for [`crate::Model::outputs`] (empty until
    /// [`TabularIo::set_outputs_from_probe`]).
    pub fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    /// Sets the outputs from the tensors of a probe run (the model run once on a few rows): output `i`
    /// is named `names[i]` and has the dtype and shape of `probe[i]`, with a variable batch dimension.
    /// Fails when the counts differ or a probe tensor has no batch dimension.
    pub fn set_outputs_from_probe(
        &mut self,
        names: &[&str],
        probe: &[Tensor],
    ) -> Result<(), FlavorError> {
        if names.len() != probe.len() {
            return Err(FlavorError::InvalidModel(format!(
                "the {} model gave {} outputs, expected {} ({names:?})",
                self.family,
                probe.len(),
                names.len()
            )));
        }
        self.outputs = names
            .iter()
            .zip(probe)
            .map(|(name, t)| {
                let mut shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
                match shape.first_mut() {
                    Some(batch) => *batch = -1,
                    None => {
                        return Err(FlavorError::InvalidModel(format!(
                            "the {} model's output {name:?} is a scalar, not a batch",
                            self.family
                        )))
                    }
                }
                Ok(IoSpec::new(*name, t.dtype(), shape))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Checks the tensors given to [`crate::Model::predict`]: exactly one, of shape `[rows,
    /// n_features]` and a dtype that casts to f64 (f32, integers, bool). Returns the row count and the
    /// row-major f64 features. Every failure is a client error.
    pub fn take_features(&self, inputs: Vec<Tensor>) -> Result<(usize, Vec<f64>), FlavorError> {
        let [input]: [Tensor; 1] = inputs.try_into().map_err(|v: Vec<Tensor>| {
            FlavorError::InvalidInput(format!(
                "the {} model takes 1 input tensor, got {}",
                self.family,
                v.len()
            ))
        })?;
        if input.shape().len() != 2 || input.shape()[1] != self.n_features {
            return Err(FlavorError::InvalidInput(format!(
                "input {:?} must have shape [-1, {}], got {:?}",
                self.inputs[0].name,
                self.n_features,
                input.shape()
            )));
        }
        let rows = input.rows();
        match input.cast(DType::F64)?.into_data() {
            TensorData::F64(features) => Ok((rows, features)),
            other => Err(FlavorError::Engine(format!(
                "cast to f64 gave {}",
                other.dtype()
            ))),
        }
    }

    /// Checks that `features` holds `rows` rows of `n_features` values (a client error otherwise).
    pub fn check_features(&self, rows: usize, features: &[f64]) -> Result<(), FlavorError> {
        let expected = rows.checked_mul(self.n_features);
        if expected != Some(features.len()) {
            return Err(FlavorError::InvalidInput(format!(
                "expected {rows} rows of {} features ({} values), got {} values",
                self.n_features,
                expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                features.len()
            )));
        }
        Ok(())
    }

    /// The answer to a batch of zero rows: one empty tensor per output, with the outputs' dtypes and
    /// non-batch dimensions (engines often refuse an empty matrix, so tabular flavors never call them
    /// with one).
    pub fn empty_outputs(&self) -> Result<Vec<Tensor>, FlavorError> {
        self.outputs
            .iter()
            .map(|spec| {
                let mut shape: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
                if let Some(batch) = shape.first_mut() {
                    *batch = 0;
                }
                Ok(Tensor::new(
                    shape,
                    TensorData::with_capacity(spec.dtype, 0),
                )?)
            })
            .collect()
    }
}

/// Runs engine code, turning a panic into [`FlavorError::Engine`] (`"<family> panicked: <message>"`).
///
/// Engines index without checks or assert on dimensions in places, so a model decoded from a damaged
/// file can panic; that is the model's fault, reported as an error rather than taking the worker down.
pub fn catch_engine_panic<T>(
    family: &str,
    run: impl FnOnce() -> Result<T, FlavorError>,
) -> Result<T, FlavorError> {
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(FlavorError::Engine(format!("{family} panicked: {message}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io() -> TabularIo {
        let mut io = TabularIo::new("test", "input", 3).unwrap();
        let probe = [
            Tensor::new(vec![1], TensorData::I64(vec![2])).unwrap(),
            Tensor::f64_matrix(1, 4, vec![0.25; 4]).unwrap(),
        ];
        io.set_outputs_from_probe(&["label", "probabilities"], &probe)
            .unwrap();
        io
    }

    #[test]
    fn specs_have_a_variable_batch() {
        let io = io();
        assert_eq!(io.n_features(), 3);
        assert_eq!(
            io.inputs(),
            &[IoSpec::new("input", DType::F64, vec![-1, 3])]
        );
        assert_eq!(
            io.outputs(),
            &[
                IoSpec::new("label", DType::I64, vec![-1]),
                IoSpec::new("probabilities", DType::F64, vec![-1, 4]),
            ]
        );
    }

    #[test]
    fn refuses_feature_counts_out_of_range() {
        for n in [0, MAX_FEATURES + 1] {
            let err = TabularIo::new("linfa", "input", n).unwrap_err();
            assert!(matches!(err, FlavorError::InvalidModel(_)), "{err}");
            assert!(err.to_string().contains("a linfa model"), "{err}");
        }
        assert!(TabularIo::new("linfa", "input", MAX_FEATURES).is_ok());
    }

    #[test]
    fn a_probe_must_match_the_output_names() {
        let mut io = TabularIo::new("test", "input", 2).unwrap();
        let one = [Tensor::new(vec![1], TensorData::I64(vec![0])).unwrap()];
        assert!(io.set_outputs_from_probe(&["a", "b"], &one).is_err());
        let scalar = [Tensor::new(vec![], TensorData::I64(vec![0])).unwrap()];
        assert!(io.set_outputs_from_probe(&["a"], &scalar).is_err());
        assert!(io.outputs().is_empty());
    }

    #[test]
    fn takes_one_matrix_and_casts_it_to_f64() {
        let io = io();
        let (rows, x) = io
            .take_features(vec![Tensor::f32_matrix(
                2,
                3,
                vec![1.5, 2.0, 3.0, 4.0, 5.0, 6.0],
            )
            .unwrap()])
            .unwrap();
        assert_eq!(rows, 2);
        assert_eq!(x, vec![1.5, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let ints = Tensor::new(vec![1, 3], TensorData::I64(vec![1, 2, 3])).unwrap();
        assert_eq!(
            io.take_features(vec![ints]).unwrap(),
            (1, vec![1.0, 2.0, 3.0])
        );
    }

    #[test]
    fn bad_inputs_are_client_errors() {
        let io = io();
        let ok = || Tensor::f64_matrix(1, 3, vec![0.0; 3]).unwrap();
        let cases = [
            vec![],
            vec![ok(), ok()],
            vec![Tensor::f64_matrix(1, 4, vec![0.0; 4]).unwrap()],
            vec![Tensor::new(vec![3], TensorData::F64(vec![0.0; 3])).unwrap()],
            vec![Tensor::new(vec![1, 3], TensorData::String(vec!["a".into(); 3])).unwrap()],
        ];
        for inputs in cases {
            let shapes: Vec<_> = inputs.iter().map(|t| t.shape().to_vec()).collect();
            let err = io.take_features(inputs).unwrap_err();
            assert!(err.is_client_error(), "{shapes:?}: {err}");
        }
        let err = io
            .take_features(vec![Tensor::f64_matrix(1, 4, vec![0.0; 4]).unwrap()])
            .unwrap_err();
        assert!(err.to_string().contains("[-1, 3]"), "{err}");
    }

    #[test]
    fn checks_the_feature_count() {
        let io = io();
        assert!(io.check_features(2, &[0.0; 6]).is_ok());
        assert!(io.check_features(0, &[]).is_ok());
        let err = io.check_features(2, &[0.0; 5]).unwrap_err();
        assert!(err.is_client_error());
        assert!(err.to_string().contains("(6 values), got 5"), "{err}");
        assert!(io.check_features(usize::MAX, &[0.0; 3]).is_err());
    }

    #[test]
    fn empty_outputs_keep_dtypes_and_inner_dimensions() {
        let out = io().empty_outputs().unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].shape(), &[0]);
        assert_eq!(out[0].dtype(), DType::I64);
        assert_eq!(out[1].shape(), &[0, 4]);
        assert_eq!(out[1].dtype(), DType::F64);
        assert!(out.iter().all(Tensor::is_empty));
    }

    #[test]
    fn engine_panics_become_engine_errors() {
        assert_eq!(catch_engine_panic("x", || Ok(7)).unwrap(), 7);
        let err = catch_engine_panic::<()>("smartcore", || panic!("index {} out of range", 9))
            .unwrap_err();
        assert!(
            matches!(&err, FlavorError::Engine(m) if m == "smartcore panicked: index 9 out of range"),
            "{err}"
        );
        let err = catch_engine_panic::<()>("linfa", || std::panic::panic_any(3u8)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "engine error: linfa panicked: unknown panic"
        );
        let err = catch_engine_panic::<()>("linfa", || Err(FlavorError::Engine("no".into())))
            .unwrap_err();
        assert_eq!(err.to_string(), "engine error: no");
    }
}
