//! The transform's settings: where the frame is, how the model wants it, what to write back.

use std::path::PathBuf;

use base64::Engine;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, DefaultValue, Importance, Props, Result,
    Validator, Value,
};

use crate::classifier::Prediction;

/// How pixel values are scaled before they reach the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalization {
    /// Raw 0..255 (the model normalises inside its graph, as the sock model does).
    Raw,
    /// `(x / 255 - mean) / std` per channel (torchvision's ImageNet numbers by default).
    MeanStd {
        /// Per-channel mean on the 0..1 scale.
        mean: [f32; 3],
        /// Per-channel standard deviation on the 0..1 scale.
        std: [f32; 3],
    },
}

/// Tensor layout of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 1×3×H×W.
    Nchw,
    /// 1×H×W×3.
    Nhwc,
}

/// Where the classification goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The value becomes `{"image":..,"probability":..}`.
    Replace,
    /// That message is put into this field of a map value.
    Field(String),
    /// Label and probability go to this header (and `<header>.probability`).
    Header(String),
}

/// Parsed settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ONNX model file.
    pub model_path: PathBuf,
    /// Labels, one per line, in output order.
    pub labels_path: PathBuf,
    /// Field of a map value holding the frame; the whole value when `None`.
    pub input_field: Option<String>,
    /// Whether a string frame is base64 (otherwise strings are refused).
    pub base64: bool,
    /// Input width and height.
    pub size: u32,
    /// Pixel scaling.
    pub normalization: Normalization,
    /// Tensor layout.
    pub layout: Layout,
    /// Labels reported (1 = only the best).
    pub top_k: usize,
    /// Below this probability (percent) the label is `blank_label`.
    pub min_probability: f64,
    /// The label for "nothing recognised".
    pub blank_label: String,
    /// Where the result goes.
    pub output: Output,
}

const MODEL_PATH: &str = "model.path";
const LABELS_PATH: &str = "labels.path";
const INPUT_FIELD: &str = "input.field";
const INPUT_ENCODING: &str = "input.encoding";
const INPUT_SIZE: &str = "input.size";
const INPUT_NORMALIZATION: &str = "input.normalization";
const INPUT_MEAN: &str = "input.mean";
const INPUT_STD: &str = "input.std";
const INPUT_LAYOUT: &str = "input.layout";
const TOP_K: &str = "top.k";
const MIN_PROBABILITY: &str = "min.probability";
const BLANK_LABEL: &str = "blank.label";
const OUTPUT_MODE: &str = "output.mode";
const OUTPUT_FIELD: &str = "output.field";
const OUTPUT_HEADER: &str = "output.header";

fn key(
    name: &str,
    t: ConfigType,
    default: DefaultValue,
    importance: Importance,
    doc: &str,
) -> ConfigKey {
    ConfigKey::new(name, t, default, importance, doc)
}

fn value(v: &str) -> DefaultValue {
    DefaultValue::Value(v.to_owned())
}

/// The settings as a config definition.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new()
        .define(key(MODEL_PATH, String, DefaultValue::Required, High, "Path of the ONNX image model."))
        .define(key(LABELS_PATH, String, DefaultValue::Required, High, "Path of the labels file: one label per line, in the model's output order."))
        .define(key(INPUT_FIELD, String, value(""), Medium, "Field of a map value that holds the frame; empty: the whole value."))
        .define(
            key(INPUT_ENCODING, String, value("bytes"), Medium, "bytes: the frame is raw JPEG/PNG bytes; base64: a string holding them in base64.")
                .validator(Validator::one_of_ignore_case(&["bytes", "base64"])),
        )
        .define(key(INPUT_SIZE, Int, value("224"), Medium, "Width and height the frame is resized to.").validator(Validator::between(8.0, 4096.0)))
        .define(
            key(INPUT_NORMALIZATION, String, value("raw"), Medium, "raw: pixels 0..255; meanstd: (x/255 - mean)/std per channel.")
                .validator(Validator::one_of_ignore_case(&["raw", "meanstd"])),
        )
        .define(key(INPUT_MEAN, List, value("0.485,0.456,0.406"), Low, "Per-channel mean (0..1) for meanstd."))
        .define(key(INPUT_STD, List, value("0.229,0.224,0.225"), Low, "Per-channel standard deviation (0..1) for meanstd."))
        .define(
            key(INPUT_LAYOUT, String, value("nchw"), Low, "Tensor layout of the model input: nchw or nhwc.")
                .validator(Validator::one_of_ignore_case(&["nchw", "nhwc"])),
        )
        .define(key(TOP_K, Int, value("1"), Low, "How many labels to report; more than 1 adds a \"top\" list.").validator(Validator::between(1.0, 100.0)))
        .define(key(MIN_PROBABILITY, Double, value("0"), Medium, "Below this probability (percent) the label becomes blank.label.").validator(Validator::between(0.0, 100.0)))
        .define(key(BLANK_LABEL, String, value("Blank"), Medium, "The label meaning \"no sock\"."))
        .define(
            key(OUTPUT_MODE, String, value("replace"), Medium, "replace: the value becomes {\"image\",\"probability\"}; field: put that into output.field of a map value; header: write output.header.")
                .validator(Validator::one_of_ignore_case(&["replace", "field", "header"])),
        )
        .define(key(OUTPUT_FIELD, String, value("classification"), Low, "Field for output.mode=field."))
        .define(key(OUTPUT_HEADER, String, value("image.label"), Low, "Header for output.mode=header."))
}

fn three(list: &[std::string::String], name: &str) -> Result<[f32; 3]> {
    let values: Vec<f32> = list
        .iter()
        .map(|v| v.parse::<f32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| ConnectError::config(format!("{name} must be three numbers")))?;
    values
        .try_into()
        .map_err(|_| ConnectError::config(format!("{name} must be three numbers")))
}

impl Settings {
    /// Parses and checks the transform's properties.
    pub fn parse(props: &Props) -> Result<Self> {
        let c = config_def().parse(props)?;
        let text = |k: &str| c.string(k).unwrap_or_default().to_owned();
        let normalization = if text(INPUT_NORMALIZATION).eq_ignore_ascii_case("meanstd") {
            let mean = three(&c.list(INPUT_MEAN), INPUT_MEAN)?;
            let std = three(&c.list(INPUT_STD), INPUT_STD)?;
            if std.iter().any(|s| *s <= 0.0) {
                return Err(ConnectError::config(format!(
                    "{INPUT_STD} values must be positive"
                )));
            }
            Normalization::MeanStd { mean, std }
        } else {
            Normalization::Raw
        };
        let output = match text(OUTPUT_MODE).to_ascii_lowercase().as_str() {
            "field" => Output::Field(text(OUTPUT_FIELD)),
            "header" => Output::Header(text(OUTPUT_HEADER)),
            _ => Output::Replace,
        };
        Ok(Self {
            model_path: PathBuf::from(text(MODEL_PATH)),
            labels_path: PathBuf::from(text(LABELS_PATH)),
            input_field: Some(text(INPUT_FIELD)).filter(|f| !f.is_empty()),
            base64: text(INPUT_ENCODING).eq_ignore_ascii_case("base64"),
            size: u32::try_from(c.int(INPUT_SIZE).unwrap_or(224)).unwrap_or(224),
            normalization,
            layout: if text(INPUT_LAYOUT).eq_ignore_ascii_case("nhwc") {
                Layout::Nhwc
            } else {
                Layout::Nchw
            },
            top_k: usize::try_from(c.int(TOP_K).unwrap_or(1)).unwrap_or(1),
            min_probability: c.double(MIN_PROBABILITY).unwrap_or(0.0),
            blank_label: text(BLANK_LABEL),
            output,
        })
    }

    /// The encoded frame in a record value.
    pub fn frame_bytes(&self, value: &Value) -> Result<Vec<u8>> {
        let frame = match &self.input_field {
            None => value,
            Some(field) => match value {
                Value::Map(_) => value.map_get(field),
                Value::Struct(s) => s.get(field),
                _ => None,
            }
            .ok_or_else(|| {
                ConnectError::data(format!("ImageClassifier: the value has no field '{field}'"))
            })?,
        };
        match frame {
            Value::Bytes(b) => Ok(b.clone()),
            Value::String(s) if self.base64 => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|e| {
                    ConnectError::data(format!(
                        "ImageClassifier: the frame is not valid base64: {e}"
                    ))
                }),
            other => Err(ConnectError::data(format!(
                "ImageClassifier: expected the frame as bytes{}, got {}",
                if self.base64 {
                    " or a base64 string"
                } else {
                    ""
                },
                other.kind_name()
            ))),
        }
    }

    /// The camera's message for a prediction: `{"image": label, "probability": percent}`, plus
    /// `"top"` when more than one label is asked for.
    pub fn message(&self, p: &Prediction) -> Value {
        let mut entries = vec![
            (Value::from("image"), Value::from(p.label.clone())),
            (Value::from("probability"), Value::Float64(p.percent())),
        ];
        if self.top_k > 1 {
            let top = p
                .top
                .iter()
                .map(|(label, prob)| {
                    Value::Map(vec![
                        (Value::from("image"), Value::from(label.clone())),
                        (
                            Value::from("probability"),
                            Value::Float64(f64::from(*prob) * 100.0),
                        ),
                    ])
                })
                .collect();
            entries.push((Value::from("top"), Value::Array(top)));
        }
        Value::Map(entries)
    }
}
