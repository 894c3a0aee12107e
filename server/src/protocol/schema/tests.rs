//! Unit tests of signature enforcement (both paths, conversions and flattening).

use homeml_flavor::{ColSpec, ColumnType, DType, IoSpec, Schema, Signature, Tensor, TensorData};
use serde_json::{json, Value};

use super::columns::{by_column, float_matrix_casts};
use super::*;

pub(crate) fn model(inputs: Vec<IoSpec>, signature: Option<Signature>) -> ModelInfo {
    ModelInfo {
        name: "m".into(),
        version: "1".into(),
        platform: "test".into(),
        inputs,
        outputs: vec![IoSpec::new("y", DType::F32, vec![-1])],
        signature,
    }
}

fn iris_cols() -> ModelInfo {
    model(
        vec![IoSpec::new("X", DType::F32, vec![-1, 3])],
        Some(Signature {
            inputs: Some(Schema::columns(&["a", "b", "c"], ColumnType::Double)),
            outputs: None,
            params: None,
        }),
    )
}

#[test]
fn float_matrix_shortcut_equals_the_column_path() {
    // Every combination the shortcut takes (column type x input dtype x data dtype x rows), with
    // values that f32 rounds, overflows or keeps as NaN/inf: the same tensor as column by column.
    let values = [
        0.1,
        5.1,
        -0.0,
        1e40,
        -1e-50,
        f64::NAN,
        f64::INFINITY,
        16_777_217.0,
        3.5,
    ];
    let mut taken = 0;
    for col_ty in [ColumnType::Double, ColumnType::Float] {
        for input_dtype in [DType::F32, DType::F64] {
            for width in [-1, 3] {
                let m = model(
                    vec![IoSpec::new("X", input_dtype, vec![-1, width])],
                    Some(Signature {
                        inputs: Some(Schema::columns(&["a", "b", "c"], col_ty.clone())),
                        outputs: None,
                        params: None,
                    }),
                );
                let cols = column_signature(&m).unwrap();
                for rows in [0, 1, 3] {
                    let data = &values[..rows * 3];
                    for t in [
                        Tensor::new(vec![rows, 3], TensorData::F64(data.to_vec())).unwrap(),
                        Tensor::new(
                            vec![rows, 3],
                            TensorData::F32(data.iter().map(|&x| x as f32).collect()),
                        )
                        .unwrap(),
                    ] {
                        let payload = || Payload::Tensor(Data::typed(t.clone()));
                        assert!(float_matrix_casts(&payload(), cols, &m).is_some());
                        taken += 1;
                        let fast = assemble(payload(), &m).unwrap();
                        let slow = by_column(payload(), cols, &m).unwrap();
                        assert_eq!(fast.rows, slow.rows);
                        assert_eq!(
                            format!("{:?}", fast.tensors),
                            format!("{:?}", slow.tensors),
                            "{col_ty:?} {input_dtype:?} {t:?}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(taken, 2 * 2 * 2 * 3 * 2);
    // And what it leaves: other widths, integer columns, mixed column types, named payloads.
    let m = iris_cols();
    let cols = column_signature(&m).unwrap();
    let t4 = Tensor::new(vec![1, 4], TensorData::F64(vec![1.0; 4])).unwrap();
    assert!(float_matrix_casts(&Payload::Tensor(Data::typed(t4)), cols, &m).is_none());
    let ints = Tensor::new(vec![1, 3], TensorData::I64(vec![1; 3])).unwrap();
    assert!(float_matrix_casts(&Payload::Tensor(Data::typed(ints)), cols, &m).is_none());
    let t3 = Tensor::new(vec![1, 3], TensorData::F64(vec![1.0; 3])).unwrap();
    let named = Payload::Named(vec![("X".into(), Data::typed(t3.clone()))]);
    assert!(float_matrix_casts(&named, cols, &m).is_none());
    let mixed = model(
        vec![IoSpec::new("X", DType::F32, vec![-1, 3])],
        Some(Signature {
            inputs: Some(Schema::Columns(vec![
                ColSpec {
                    name: Some("a".into()),
                    ty: ColumnType::Double,
                    required: true,
                },
                ColSpec {
                    name: Some("b".into()),
                    ty: ColumnType::Float,
                    required: true,
                },
                ColSpec {
                    name: Some("c".into()),
                    ty: ColumnType::Long,
                    required: true,
                },
            ])),
            outputs: None,
            params: None,
        }),
    );
    let mixed_cols = column_signature(&mixed).unwrap();
    assert!(float_matrix_casts(&Payload::Tensor(Data::typed(t3)), mixed_cols, &mixed).is_none());
}

fn frame<'a>(names: &[&str], data: &'a [Value]) -> Payload<'a> {
    let columns = names
        .iter()
        .zip(data)
        .map(|(n, v)| Column {
            name: Some(n.to_string()),
            data: flatten(v, n).unwrap(),
        })
        .collect();
    Payload::Frame {
        columns,
        rows: data[0].as_array().unwrap().len(),
    }
}

#[test]
fn flatten_reads_shapes_and_refuses_ragged_lists() {
    let v = json!([[1, 2], [3, 4], [5, 6]]);
    let d = flatten(&v, "x").unwrap();
    assert_eq!(d.shape, vec![3, 2]);
    let v = json!([[1, 2], [3]]);
    let err = flatten(&v, "x").unwrap_err().to_string();
    assert!(err.contains("ragged"), "{err}");
    let v = json!([[1, 2], 3]);
    assert!(flatten(&v, "x").is_err());
    let v = json!([1, [2]]);
    assert!(flatten(&v, "x").is_err());
    assert_eq!(flatten(&json!(5), "x").unwrap().shape, Vec::<usize>::new());
    assert_eq!(flatten(&json!([]), "x").unwrap().shape, vec![0]);
}

#[test]
fn columns_are_found_by_name_in_any_order_and_stacked() {
    let m = iris_cols();
    let data = [json!([3, 30]), json!([1.5, 10]), json!([2, 20])];
    let input = assemble(frame(&["c", "a", "b"], &data), &m).unwrap();
    assert_eq!(input.rows, 2);
    assert_eq!(input.tensors[0].shape(), &[2, 3]);
    assert_eq!(
        input.tensors[0].data(),
        &TensorData::F32(vec![1.5, 2.0, 3.0, 10.0, 20.0, 30.0])
    );
}

#[test]
fn missing_and_unknown_columns_are_named() {
    let m = iris_cols();
    let data = [json!([1]), json!([2])];
    let err = assemble(frame(&["a", "b"], &data), &m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing column \"c\""), "{err}");
    let data = [json!([1]), json!([2]), json!([3]), json!([4])];
    let err = assemble(frame(&["a", "b", "c", "zz"], &data), &m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown column \"zz\""), "{err}");
}

#[test]
fn bad_values_name_the_column() {
    let m = iris_cols();
    let data = [json!([1]), json!(["x"]), json!([3])];
    let err = assemble(frame(&["a", "b", "c"], &data), &m).unwrap_err();
    assert!(matches!(err, ApiError::BadRequest(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("column \"b\"") && msg.contains("\"x\""),
        "{msg}"
    );
}

#[test]
fn an_unnamed_matrix_maps_positionally_onto_columns() {
    let m = iris_cols();
    let v = json!([[1, 2, 3]]);
    let input = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap();
    assert_eq!(
        input.tensors[0].data(),
        &TensorData::F32(vec![1.0, 2.0, 3.0])
    );
    let v = json!([[1, 2]]);
    let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap_err();
    assert!(err.to_string().contains("3 values"), "{err}");
}

#[test]
fn one_input_per_column_maps_by_name_with_types() {
    let sig = Signature {
        inputs: Some(Schema::Columns(vec![
            ColSpec {
                name: Some("age".into()),
                ty: ColumnType::Long,
                required: true,
            },
            ColSpec {
                name: Some("city".into()),
                ty: ColumnType::String,
                required: true,
            },
            ColSpec {
                name: Some("member".into()),
                ty: ColumnType::Boolean,
                required: true,
            },
        ])),
        outputs: None,
        params: None,
    };
    let m = model(
        vec![
            IoSpec::new("city", DType::String, vec![-1, 1]),
            IoSpec::new("age", DType::F32, vec![-1, 1]),
            IoSpec::new("member", DType::Bool, vec![-1]),
        ],
        Some(sig),
    );
    let data = [
        json!([true, false]),
        json!([30, 40]),
        json!(["Paris", "Oslo"]),
    ];
    let input = assemble(frame(&["member", "age", "city"], &data), &m).unwrap();
    assert_eq!(input.tensors[0].shape(), &[2, 1]);
    assert_eq!(
        input.tensors[0].data(),
        &TensorData::String(vec!["Paris".into(), "Oslo".into()])
    );
    assert_eq!(input.tensors[1].data(), &TensorData::F32(vec![30.0, 40.0]));
    assert_eq!(
        input.tensors[2].data(),
        &TensorData::Bool(vec![true, false])
    );
    // A fraction in a long column is refused, naming it.
    let data = [json!([true]), json!([30.5]), json!(["Paris"])];
    let err = assemble(frame(&["member", "age", "city"], &data), &m)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"age\"") && err.contains("integer"),
        "{err}"
    );
    // A number in a string column is refused.
    let data = [json!([true]), json!([30]), json!([5])];
    let err = assemble(frame(&["member", "age", "city"], &data), &m)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"city\"") && err.contains("string"),
        "{err}"
    );
}

#[test]
fn tensor_shapes_are_checked_per_dimension() {
    let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, 4])], None);
    let v = json!([[1, 2, 3]]);
    let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("input \"X\"") && err.contains("dimension 1 must be 4"),
        "{err}"
    );
    let v = json!([1, 2, 3, 4]);
    let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 2 dimensions"), "{err}");
    let v = json!([[1, 2, 3, 4], [5, 6, 7, 8]]);
    let input = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap();
    assert_eq!(input.rows, 2);
    assert_eq!(input.tensors[0].dtype(), DType::F32);
}

#[test]
fn tensor_signature_shapes_are_checked_too() {
    let sig = Signature {
        inputs: Some(Schema::tensor(None, DType::F32, vec![-1, 2])),
        outputs: None,
        params: None,
    };
    let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, -1])], Some(sig));
    let v = json!([[1, 2, 3]]);
    let err = assemble(Payload::Tensor(flatten(&v, "inputs").unwrap()), &m).unwrap_err();
    assert!(err.to_string().contains("dimension 1 must be 2"), "{err}");
}

#[test]
fn named_tensors_map_by_name() {
    let m = model(
        vec![
            IoSpec::new("a", DType::I64, vec![-1]),
            IoSpec::new("b", DType::F64, vec![-1, 2]),
        ],
        None,
    );
    let a = json!([1, 2]);
    let b = json!([[1, 2], [3, 4]]);
    let payload = Payload::Named(vec![
        ("b".into(), flatten(&b, "b").unwrap()),
        ("a".into(), flatten(&a, "a").unwrap()),
    ]);
    let input = assemble(payload, &m).unwrap();
    assert_eq!(input.tensors[0].data(), &TensorData::I64(vec![1, 2]));
    assert_eq!(input.tensors[1].shape(), &[2, 2]);
    let payload = Payload::Named(vec![("a".into(), flatten(&a, "a").unwrap())]);
    let err = assemble(payload, &m).unwrap_err().to_string();
    assert!(err.contains("missing input \"b\""), "{err}");
    let payload = Payload::Named(vec![("q".into(), flatten(&a, "q").unwrap())]);
    let err = assemble(payload, &m).unwrap_err().to_string();
    assert!(err.contains("unknown input \"q\""), "{err}");
    let short = json!([[1, 2]]);
    let payload = Payload::Named(vec![
        ("a".into(), flatten(&a, "a").unwrap()),
        ("b".into(), flatten(&short, "b").unwrap()),
    ]);
    let err = assemble(payload, &m).unwrap_err().to_string();
    assert!(err.contains("rows"), "{err}");
    // An unnamed tensor for a two-input model is refused.
    let err = assemble(Payload::Tensor(flatten(&a, "x").unwrap()), &m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 inputs"), "{err}");
}

#[test]
fn a_frame_without_signature_stacks_in_frame_order() {
    let m = model(vec![IoSpec::new("X", DType::F32, vec![-1, 2])], None);
    let data = [json!([1, 3]), json!([2, 4])];
    let input = assemble(frame(&["q", "p"], &data), &m).unwrap();
    assert_eq!(
        input.tensors[0].data(),
        &TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])
    );
    let data = [json!([1]), json!([2]), json!([3])];
    let err = assemble(frame(&["q", "p", "r"], &data), &m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dimension 1 must be 2"), "{err}");
}

#[test]
fn non_finite_encodings_are_read_for_float_inputs() {
    let v = json!([null, "NaN", "Infinity", "-Infinity", 1]);
    let d = flatten(&v, "x").unwrap();
    let Values::Cells(cells) = &d.values else {
        panic!()
    };
    let TensorData::F64(x) = convert_cells(cells, DType::F64, "x").unwrap() else {
        panic!()
    };
    assert!(x[0].is_nan() && x[1].is_nan());
    assert_eq!(&x[2..], &[f64::INFINITY, f64::NEG_INFINITY, 1.0]);
    assert!(convert_cells(cells, DType::I64, "x").is_err());
}

#[test]
fn text_cells_parse_per_type() {
    let cells = [Cell::Text("1"), Cell::Text(" 2.0 "), Cell::Text("")];
    assert_eq!(
        convert_cells(&cells[..2], DType::I32, "c").unwrap(),
        TensorData::I32(vec![1, 2])
    );
    let TensorData::F32(v) = convert_cells(&cells, DType::F32, "c").unwrap() else {
        panic!()
    };
    assert!(v[2].is_nan());
    assert_eq!(
        convert_cells(&[Cell::Text("True"), Cell::Text("0")], DType::Bool, "c").unwrap(),
        TensorData::Bool(vec![true, false])
    );
    assert!(convert_cells(&[Cell::Text("abc")], DType::F64, "c").is_err());
}
