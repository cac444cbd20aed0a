//! # sluice-transform-image-classifier
//!
//! `ImageClassifier`, a single message transform that names what a camera frame shows: it decodes
//! the record's JPEG or PNG bytes, resizes them to the model's input, runs an ONNX image model with
//! tract, and by default replaces the value with the sock camera's message shape,
//! `{"image": "<label>", "probability": <0..100>}`.
//!
//! The model is loaded and optimised once per task (when the transform is configured); inference
//! runs on tokio's blocking pool so it never stalls the runtime. A frame that cannot be decoded is
//! a data error, which `errors.tolerance` and the dead letter queue handle like any other.
//!
//! Kept in its own crate because tract is a heavy build; the plain transforms do not pay for it.

mod classifier;
mod settings;

use std::sync::Arc;

use sluice_api::{
    ConfigDef, ConnectError, ConnectRecord, PluginDesc, PluginFactory, Props, Result, Transform,
    Value, async_trait,
};

pub use classifier::{Classifier, Prediction, StageTimes};
pub use settings::{Layout, Normalization, Output, Settings};

/// The transform's class name; `ImageClassifier` is accepted as an alias.
pub const CLASS: &str = "io.sluice.transforms.ImageClassifier";

/// The image-classification transform. See the crate docs.
#[derive(Default)]
pub struct ImageClassifier {
    classifier: Option<Arc<Classifier>>,
}

impl ImageClassifier {
    /// An unconfigured transform.
    pub fn new() -> Self {
        Self::default()
    }

    fn classifier(&self) -> Result<&Arc<Classifier>> {
        self.classifier
            .as_ref()
            .ok_or_else(|| ConnectError::config("ImageClassifier is not configured"))
    }
}

#[async_trait]
impl Transform for ImageClassifier {
    fn config_def(&self) -> ConfigDef {
        settings::config_def()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(props)?;
        self.classifier = Some(Arc::new(Classifier::load(settings)?));
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        if record.value.is_null() {
            return Ok(Some(record));
        }
        let classifier = self.classifier()?.clone();
        let bytes = classifier.settings().frame_bytes(&record.value)?;
        // Decoding and inference are CPU-bound: run them off the async runtime.
        let prediction = tokio::task::spawn_blocking(move || classifier.classify(&bytes))
            .await
            .map_err(|e| {
                ConnectError::connect(format!("ImageClassifier: inference interrupted: {e}"))
            })??;
        let classifier = self.classifier()?;
        let message = classifier.settings().message(&prediction);
        match &classifier.settings().output {
            Output::Replace => {
                record.value = message;
                record.value_schema = None;
            }
            Output::Field(field) => match &mut record.value {
                Value::Map(entries) => {
                    entries.retain(|(k, _)| k.as_str() != Some(field));
                    entries.push((Value::String(field.clone()), message));
                }
                other => {
                    return Err(ConnectError::data(format!(
                        "ImageClassifier: output.field needs a map value (schemaless JSON), not {}",
                        other.kind_name()
                    )));
                }
            },
            Output::Header(header) => {
                record
                    .headers
                    .add_string(header.clone(), prediction.label.clone());
                record.headers.add_string(
                    format!("{header}.probability"),
                    format!("{}", prediction.percent()),
                );
            }
        }
        Ok(Some(record))
    }
}

/// The plugins of this crate.
pub fn plugins() -> Vec<PluginDesc> {
    vec![PluginDesc {
        class: CLASS,
        aliases: &["ImageClassifier"],
        version: env!("CARGO_PKG_VERSION"),
        factory: PluginFactory::Transform(|| Box::new(ImageClassifier::new())),
    }]
}
