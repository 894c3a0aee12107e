//! A model's answer turned into something meaningful: a label per row (class index -> name, or a
//! threshold on a binary score) and, when asked, the class probabilities.

use serde::Serialize;
use serde_json::Value;

use crate::config::OutputConfig;
use crate::protocol::{Answer, NamedOutput, OutputData};

/// One row's prediction as returned to the client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The label: a configured class name, or the model's raw value.
    pub label: Value,
    /// The score a threshold was applied to, for one-score binary models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Class probabilities, by label name when labels are configured (only on request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Value>,
}

/// How answers are mapped, compiled from [`OutputConfig`].
#[derive(Debug, Clone)]
pub struct OutputMapping {
    labels: Vec<String>,
    threshold: Option<f64>,
    label_output: Option<String>,
    probabilities_output: Option<String>,
}

const PROBABILITY_NAMES: [&str; 3] = ["probabilities", "output_probability", "probability"];

impl OutputMapping {
    /// Compiles the mapping.
    pub fn new(cfg: &OutputConfig) -> Self {
        Self {
            labels: cfg.labels.clone(),
            threshold: cfg.threshold,
            label_output: cfg.label_output.clone(),
            probabilities_output: cfg.probabilities_output.clone(),
        }
    }

    /// The configured class names.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The output names to ask a V2 server for (empty: all outputs). The probabilities output is
    /// asked for only when the client wants probabilities: a model without one (a random forest with
    /// labels only) then still answers, and the server computes and sends less.
    pub fn requested_outputs(&self, with_probabilities: bool) -> Vec<&str> {
        let mut v = Vec::new();
        if let Some(l) = &self.label_output {
            v.push(l.as_str());
            if let Some(p) = self
                .probabilities_output
                .as_ref()
                .filter(|_| with_probabilities)
            {
                v.push(p.as_str());
            }
        }
        v
    }

    fn find_probabilities<'a>(&self, answer: &'a Answer) -> Option<&'a NamedOutput> {
        match &self.probabilities_output {
            Some(name) => answer.outputs.iter().find(|o| &o.name == name),
            None => answer
                .outputs
                .iter()
                .find(|o| PROBABILITY_NAMES.contains(&o.name.as_str())),
        }
    }

    fn find_label<'a>(
        &self,
        answer: &'a Answer,
        probs: Option<&NamedOutput>,
    ) -> Result<Option<&'a NamedOutput>, String> {
        match &self.label_output {
            Some(name) => answer
                .outputs
                .iter()
                .find(|o| &o.name == name)
                .map(Some)
                .ok_or_else(|| format!("the answer has no output {name:?}")),
            None => Ok(answer
                .outputs
                .iter()
                .find(|o| o.name == "label")
                .or_else(|| {
                    answer
                        .outputs
                        .iter()
                        .find(|o| Some(o.name.as_str()) != probs.map(|p| p.name.as_str()))
                })),
        }
    }

    /// Maps an answer for `rows` rows; `with_probabilities` adds them (an error if the model has none).
    pub fn map(
        &self,
        answer: &Answer,
        rows: usize,
        with_probabilities: bool,
    ) -> Result<Vec<Prediction>, String> {
        let probs = self.find_probabilities(answer);
        let label = self.find_label(answer, probs)?;
        let prob_matrix = match probs {
            Some(p) => Some(matrix(p, rows)?),
            None => None,
        };
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let (label_value, score) = match label {
                Some(l) => self.label_of(l, rows, i)?,
                None => match &prob_matrix {
                    Some((vals, k)) => (self.class_label(argmax(&vals[i * k..(i + 1) * k]))?, None),
                    None => return Err("the answer has no outputs".into()),
                },
            };
            let probabilities = if with_probabilities {
                let Some((vals, k)) = &prob_matrix else {
                    return Err("the model returns no probabilities".into());
                };
                let row = &vals[i * k..(i + 1) * k];
                Some(if self.labels.len() == *k {
                    Value::Object(
                        self.labels
                            .iter()
                            .zip(row)
                            .map(|(l, p)| (l.clone(), json_number(*p)))
                            .collect(),
                    )
                } else {
                    Value::Array(row.iter().map(|p| json_number(*p)).collect())
                })
            } else {
                None
            };
            out.push(Prediction {
                label: label_value,
                score,
                probabilities,
            });
        }
        Ok(out)
    }

    fn class_label(&self, idx: usize) -> Result<Value, String> {
        if self.labels.is_empty() {
            return Ok(Value::from(idx));
        }
        self.labels
            .get(idx)
            .map(|l| Value::String(l.clone()))
            .ok_or_else(|| {
                format!(
                    "class index {idx} out of the {} configured labels",
                    self.labels.len()
                )
            })
    }

    fn label_of(
        &self,
        out: &NamedOutput,
        rows: usize,
        i: usize,
    ) -> Result<(Value, Option<f64>), String> {
        if out.shape.first().copied() != Some(rows) {
            return Err(format!(
                "output {} has shape {:?} for {rows} rows",
                out.name, out.shape
            ));
        }
        let k = out.data.len() / rows.max(1);
        match &out.data {
            OutputData::Strings(s) => {
                if k != 1 {
                    return Err(format!("output {} has {k} strings per row", out.name));
                }
                Ok((Value::String(s[i].clone()), None))
            }
            OutputData::Numbers(n) => {
                if k > 1 {
                    // Per-class scores: take the best class.
                    return Ok((self.class_label(argmax(&n[i * k..(i + 1) * k]))?, None));
                }
                let x = n[i];
                if let Some(t) = self.threshold {
                    let class = usize::from(x >= t);
                    let label = if self.labels.is_empty() {
                        Value::from(class)
                    } else {
                        self.class_label(class)?
                    };
                    return Ok((label, Some(x)));
                }
                if x.fract() == 0.0 && x >= 0.0 && !self.labels.is_empty() {
                    return Ok((self.class_label(x as usize)?, None));
                }
                if !self.labels.is_empty() {
                    return Err(format!(
                        "output {} value {x} is not a class index",
                        out.name
                    ));
                }
                Ok((json_number(x), None))
            }
        }
    }
}

fn matrix(p: &NamedOutput, rows: usize) -> Result<(&[f64], usize), String> {
    let OutputData::Numbers(vals) = &p.data else {
        return Err(format!("output {} is not numeric", p.name));
    };
    if rows == 0 || p.shape.first().copied() != Some(rows) || vals.len() % rows != 0 {
        return Err(format!(
            "output {} has shape {:?} for {rows} rows",
            p.name, p.shape
        ));
    }
    Ok((vals, vals.len() / rows))
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn json_number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(name: &str, shape: Vec<usize>, data: Vec<f64>) -> NamedOutput {
        NamedOutput {
            name: name.into(),
            shape,
            data: OutputData::Numbers(data),
        }
    }

    fn answer(outputs: Vec<NamedOutput>) -> Answer {
        Answer {
            model_name: None,
            model_version: None,
            outputs,
        }
    }

    fn iris() -> OutputMapping {
        OutputMapping::new(&OutputConfig {
            labels: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
            ..Default::default()
        })
    }

    #[test]
    fn asks_for_probabilities_only_when_wanted() {
        let m = OutputMapping::new(&OutputConfig {
            label_output: Some("label".into()),
            probabilities_output: Some("probabilities".into()),
            ..Default::default()
        });
        assert_eq!(m.requested_outputs(false), vec!["label"]);
        assert_eq!(m.requested_outputs(true), vec!["label", "probabilities"]);
        assert!(
            iris().requested_outputs(true).is_empty(),
            "no names: all outputs"
        );
    }

    #[test]
    fn maps_class_index_and_probabilities() {
        let a = answer(vec![
            out("label", vec![2], vec![0.0, 2.0]),
            out(
                "probabilities",
                vec![2, 3],
                vec![0.8, 0.1, 0.1, 0.0, 0.25, 0.75],
            ),
        ]);
        let p = iris().map(&a, 2, true).unwrap();
        assert_eq!(p[0].label, json!("setosa"));
        assert_eq!(p[1].label, json!("virginica"));
        assert_eq!(
            p[1].probabilities,
            Some(json!({"setosa": 0, "versicolor": 0.25, "virginica": 0.75}))
        );
        let p = iris().map(&a, 2, false).unwrap();
        assert!(p[0].probabilities.is_none());
        assert!(iris().map(&a, 3, false).is_err());
    }

    #[test]
    fn argmax_when_only_probabilities() {
        let a = answer(vec![out("predictions", vec![1, 3], vec![0.1, 0.7, 0.2])]);
        assert_eq!(
            iris().map(&a, 1, false).unwrap()[0].label,
            json!("versicolor")
        );
    }

    #[test]
    fn applies_threshold() {
        let m = OutputMapping::new(&OutputConfig {
            labels: vec!["no".into(), "yes".into()],
            threshold: Some(0.7),
            ..Default::default()
        });
        let a = answer(vec![out("predictions", vec![2], vec![0.69, 0.7])]);
        let p = m.map(&a, 2, false).unwrap();
        assert_eq!(p[0].label, json!("no"));
        assert_eq!(p[1].label, json!("yes"));
        assert_eq!(p[1].score, Some(0.7));
    }

    #[test]
    fn errors_on_bad_answers() {
        let a = answer(vec![out("label", vec![1], vec![7.0])]);
        assert!(iris().map(&a, 1, false).unwrap_err().contains("out of"));
        let a = answer(vec![out("label", vec![1], vec![1.0])]);
        assert!(iris()
            .map(&a, 1, true)
            .unwrap_err()
            .contains("no probabilities"));
        let raw = OutputMapping::new(&OutputConfig::default());
        let a = answer(vec![out("variable", vec![1], vec![3.25])]);
        assert_eq!(raw.map(&a, 1, false).unwrap()[0].label, json!(3.25));
    }
}
