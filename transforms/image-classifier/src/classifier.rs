//! The model: loaded, checked against its labels and optimised once; then frame → label.

use image::imageops::FilterType;
use sluice_api::{ConnectError, Result};
use tract_onnx::prelude::*;

use crate::settings::{Layout, Normalization, Settings};

/// What the model saw in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The best label, or the blank label when below `min.probability`.
    pub label: String,
    /// Probability of the best label, 0..1.
    pub probability: f32,
    /// The `top.k` best labels with their probabilities, best first.
    pub top: Vec<(String, f32)>,
}

impl Prediction {
    /// The probability in percent, as the camera reports it.
    pub fn percent(&self) -> f64 {
        f64::from(self.probability) * 100.0
    }
}

type Plan = std::sync::Arc<TypedSimplePlan>;

/// A loaded, optimised model with its labels.
pub struct Classifier {
    plan: Plan,
    labels: Vec<String>,
    settings: Settings,
}

fn model_error(settings: &Settings, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::config(format!(
        "Invalid value {} for configuration model.path: {e}",
        settings.model_path.display()
    ))
}

impl Classifier {
    /// Loads the model and labels, fixes the input shape, optimises the plan, and checks that the
    /// model has one output per label.
    pub fn load(settings: Settings) -> Result<Self> {
        let labels_text = std::fs::read_to_string(&settings.labels_path).map_err(|e| {
            ConnectError::config(format!(
                "Invalid value {} for configuration labels.path: {e}",
                settings.labels_path.display()
            ))
        })?;
        let labels: Vec<String> = labels_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if labels.is_empty() {
            return Err(ConnectError::config(format!(
                "Invalid value {} for configuration labels.path: no labels in the file",
                settings.labels_path.display()
            )));
        }
        let s = settings.size as usize;
        let shape: [usize; 4] = match settings.layout {
            Layout::Nchw => [1, 3, s, s],
            Layout::Nhwc => [1, s, s, 3],
        };
        let model = tract_onnx::onnx()
            .model_for_path(&settings.model_path)
            .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
            .and_then(|m| m.into_optimized())
            .map_err(|e| model_error(&settings, e))?;
        let outputs = model
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|d| d.iter().product::<usize>()));
        if let Some(n) = outputs
            && n != labels.len()
        {
            return Err(ConnectError::config(format!(
                "The model {} has {n} outputs but {} has {} labels",
                settings.model_path.display(),
                settings.labels_path.display(),
                labels.len()
            )));
        }
        let plan = model
            .into_runnable()
            .map_err(|e| model_error(&settings, e))?;
        tracing::info!(model = %settings.model_path.display(), labels = labels.len(), size = settings.size, "image model loaded");
        Ok(Self {
            plan,
            labels,
            settings,
        })
    }

    /// The settings the classifier was loaded with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The labels, in output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn input(&self, bytes: &[u8]) -> Result<Tensor> {
        let image = image::load_from_memory(bytes)
            .map_err(|e| {
                ConnectError::data(format!(
                    "ImageClassifier: cannot decode the frame as JPEG or PNG: {e}"
                ))
            })?
            .to_rgb8();
        let s = self.settings.size;
        let image = image::imageops::resize(&image, s, s, FilterType::Triangle);
        let scale = |c: usize, v: u8| -> f32 {
            let v = f32::from(v);
            match &self.settings.normalization {
                Normalization::Raw => v,
                Normalization::MeanStd { mean, std } => (v / 255.0 - mean[c]) / std[c],
            }
        };
        let s = s as usize;
        let tensor = match self.settings.layout {
            Layout::Nchw => tract_ndarray::Array4::from_shape_fn((1, 3, s, s), |(_, c, y, x)| {
                scale(c, image.get_pixel(x as u32, y as u32)[c])
            }),
            Layout::Nhwc => tract_ndarray::Array4::from_shape_fn((1, s, s, 3), |(_, y, x, c)| {
                scale(c, image.get_pixel(x as u32, y as u32)[c])
            }),
        };
        Ok(tensor.into())
    }

    /// Classifies one encoded frame. CPU-bound: call it from a blocking thread.
    pub fn classify(&self, bytes: &[u8]) -> Result<Prediction> {
        let input = self.input(bytes)?;
        let outputs = self.plan.run(tvec!(input.into())).map_err(|e| {
            ConnectError::connect(format!("ImageClassifier: inference failed: {e}"))
        })?;
        let scores: Vec<f32> = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| {
                ConnectError::connect(format!("ImageClassifier: unexpected model output: {e}"))
            })?
            .iter()
            .copied()
            .collect();
        let probabilities = probabilities(scores);
        let mut ranked: Vec<(usize, f32)> = probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<(String, f32)> = ranked
            .iter()
            .take(self.settings.top_k)
            .map(|(i, p)| {
                (
                    self.labels
                        .get(*i)
                        .cloned()
                        .unwrap_or_else(|| format!("#{i}")),
                    *p,
                )
            })
            .collect();
        let (best, probability) = top.first().cloned().unwrap_or_default();
        let label = if f64::from(probability) * 100.0 < self.settings.min_probability {
            self.settings.blank_label.clone()
        } else {
            best
        };
        Ok(Prediction {
            label,
            probability,
            top,
        })
    }
}

/// Scores as probabilities: kept when they already are (a Softmax ends the graph), else softmaxed.
fn probabilities(scores: Vec<f32>) -> Vec<f32> {
    let sum: f32 = scores.iter().sum();
    if scores.iter().all(|s| (0.0..=1.0).contains(s)) && (sum - 1.0).abs() < 1e-3 {
        return scores;
    }
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_are_softmaxed_and_probabilities_kept() {
        let p = probabilities(vec![0.2, 0.8]);
        assert_eq!(p, vec![0.2, 0.8]);
        let p = probabilities(vec![1.0, 3.0]);
        assert!((p[1] - 0.880_797).abs() < 1e-4, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
