//! The model: loaded, checked against its labels and optimised once; then frame → label.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use image::RgbImage;
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

/// Time spent in each step of one classification (what `examples/bench.rs` prints).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// JPEG/PNG decoding to RGB.
    pub decode: Duration,
    /// Resizing to the model's input size (nothing when the frame already has it).
    pub resize: Duration,
    /// Pixels to the input tensor (scaling, layout).
    pub tensor: Duration,
    /// Running the model.
    pub inference: Duration,
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, other: Self) {
        self.decode += other.decode;
        self.resize += other.resize;
        self.tensor += other.tensor;
        self.inference += other.inference;
    }
}

type Plan = std::sync::Arc<TypedSimplePlan>;

/// A loaded, optimised model with its labels.
pub struct Classifier {
    plan: Plan,
    labels: Vec<String>,
    settings: Settings,
    /// Per-channel lookup table: pixel byte → model input value (scaling as the settings say).
    scale: [[f32; 256]; 3],
    /// Runnable states kept between frames, one per concurrent caller: a frame takes one (or
    /// makes one), runs and puts it back, so the session and op states are not rebuilt per frame.
    states: Mutex<Vec<TypedSimpleState>>,
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
        let state = plan.spawn().map_err(|e| model_error(&settings, e))?;
        tracing::info!(model = %settings.model_path.display(), labels = labels.len(), size = settings.size, "image model loaded");
        Ok(Self {
            plan,
            labels,
            scale: scale_table(&settings.normalization),
            settings,
            states: Mutex::new(vec![state]),
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

    fn decode(bytes: &[u8]) -> Result<RgbImage> {
        Ok(image::load_from_memory(bytes)
            .map_err(|e| {
                ConnectError::data(format!(
                    "ImageClassifier: cannot decode the frame as JPEG or PNG: {e}"
                ))
            })?
            .into_rgb8())
    }

    /// The frame at the model's size: as it is when it already has it (the camera's frames do),
    /// else resized (bilinear, as the model was trained).
    fn resize(&self, image: RgbImage) -> RgbImage {
        let s = self.settings.size;
        if image.dimensions() == (s, s) {
            image
        } else {
            image::imageops::resize(&image, s, s, FilterType::Triangle)
        }
    }

    /// The input tensor: one pass over the pixels through the per-channel lookup table.
    fn tensor(&self, image: &RgbImage) -> Result<Tensor> {
        let s = self.settings.size as usize;
        let pixels = image.as_raw();
        let mut data = vec![0f32; 3 * s * s];
        let shape = match self.settings.layout {
            Layout::Nchw => {
                let (r, rest) = data.split_at_mut(s * s);
                let (g, b) = rest.split_at_mut(s * s);
                for (i, px) in pixels.chunks_exact(3).enumerate() {
                    r[i] = self.scale[0][usize::from(px[0])];
                    g[i] = self.scale[1][usize::from(px[1])];
                    b[i] = self.scale[2][usize::from(px[2])];
                }
                [1, 3, s, s]
            }
            Layout::Nhwc => {
                for (i, (out, v)) in data.iter_mut().zip(pixels).enumerate() {
                    *out = self.scale[i % 3][usize::from(*v)];
                }
                [1, s, s, 3]
            }
        };
        tract_ndarray::Array4::from_shape_vec(shape, data)
            .map(Tensor::from)
            .map_err(|e| ConnectError::connect(format!("ImageClassifier: input tensor: {e}")))
    }

    /// Runs the model on a reused state (see `states`).
    fn infer(&self, input: Tensor) -> Result<Vec<f32>> {
        let pooled = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut state = match pooled {
            Some(state) => state,
            None => self.plan.spawn().map_err(|e| {
                ConnectError::connect(format!("ImageClassifier: inference failed: {e}"))
            })?,
        };
        let outputs = state.run(tvec!(input.into())).map_err(|e| {
            ConnectError::connect(format!("ImageClassifier: inference failed: {e}"))
        })?;
        // A state whose run failed is dropped rather than reused.
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(state);
        let scores = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| {
                ConnectError::connect(format!("ImageClassifier: unexpected model output: {e}"))
            })?
            .iter()
            .copied()
            .collect();
        Ok(scores)
    }

    /// Classifies one encoded frame. CPU-bound: call it from a blocking thread.
    pub fn classify(&self, bytes: &[u8]) -> Result<Prediction> {
        self.classify_timed(bytes).map(|(prediction, _)| prediction)
    }

    /// [`Classifier::classify`], also returning the time each step took.
    pub fn classify_timed(&self, bytes: &[u8]) -> Result<(Prediction, StageTimes)> {
        let t0 = Instant::now();
        let image = Self::decode(bytes)?;
        let t1 = Instant::now();
        let image = self.resize(image);
        let t2 = Instant::now();
        let input = self.tensor(&image)?;
        let t3 = Instant::now();
        let scores = self.infer(input)?;
        let t4 = Instant::now();
        let times = StageTimes {
            decode: t1 - t0,
            resize: t2 - t1,
            tensor: t3 - t2,
            inference: t4 - t3,
        };
        Ok((self.prediction(scores), times))
    }

    fn prediction(&self, scores: Vec<f32>) -> Prediction {
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
        Prediction {
            label,
            probability,
            top,
        }
    }
}

/// Pixel byte → model input value, per channel.
fn scale_table(normalization: &Normalization) -> [[f32; 256]; 3] {
    let mut table = [[0f32; 256]; 3];
    for (c, row) in table.iter_mut().enumerate() {
        for (v, out) in row.iter_mut().enumerate() {
            let v = v as f32;
            *out = match normalization {
                Normalization::Raw => v,
                Normalization::MeanStd { mean, std } => (v / 255.0 - mean[c]) / std[c],
            };
        }
    }
    table
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
    fn the_lookup_table_scales_as_the_settings_say() {
        let raw = scale_table(&Normalization::Raw);
        assert_eq!((raw[0][0], raw[1][128], raw[2][255]), (0.0, 128.0, 255.0));
        let (mean, std) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
        let table = scale_table(&Normalization::MeanStd { mean, std });
        for c in 0..3 {
            for v in [0usize, 17, 128, 255] {
                let expected = (v as f32 / 255.0 - mean[c]) / std[c];
                assert!((table[c][v] - expected).abs() < 1e-6, "{c} {v}");
            }
        }
    }

    #[test]
    fn logits_are_softmaxed_and_probabilities_kept() {
        let p = probabilities(vec![0.2, 0.8]);
        assert_eq!(p, vec![0.2, 0.8]);
        let p = probabilities(vec![1.0, 3.0]);
        assert!((p[1] - 0.880_797).abs() < 1e-4, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
