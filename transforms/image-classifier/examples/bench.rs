//! Images per second of the classifier on one core, batch 1: decode + resize + inference for
//! every photo in a folder, repeated. Usage: `bench MODEL LABELS PHOTO_DIR [ROUNDS]`.
//! Prints `sluice_images_per_second: N` (scripts/bench-classifier.sh compares it with onnxruntime)
//! and the time per image of each step (decode, resize, tensor, inference).

use std::time::Instant;

use sluice_api::Props;
use sluice_transform_image_classifier::{Classifier, Settings, StageTimes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, labels, photos, ..] = args.as_slice() else {
        return Err("usage: bench MODEL LABELS PHOTO_DIR [ROUNDS]".into());
    };
    let rounds: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(10);
    let props: Props = [("model.path", model), ("labels.path", labels)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    let started = Instant::now();
    let classifier = Classifier::load(Settings::parse(&props)?)?;
    println!("model_load_ms: {}", started.elapsed().as_millis());
    let mut frames = Vec::new();
    for entry in walk(std::path::Path::new(photos))? {
        frames.push(std::fs::read(entry)?);
    }
    // Warm up once, then time.
    classifier.classify(&frames[0])?;
    let mut times = StageTimes::default();
    let started = Instant::now();
    for _ in 0..rounds {
        for frame in &frames {
            times += classifier.classify_timed(frame)?.1;
        }
    }
    let n = rounds * frames.len();
    let secs = started.elapsed().as_secs_f64();
    let per_image = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / n as f64;
    println!("images: {n}");
    println!(
        "sluice_split_ms: decode {:.2} resize {:.2} tensor {:.2} inference {:.2}",
        per_image(times.decode),
        per_image(times.resize),
        per_image(times.tensor),
        per_image(times.inference)
    );
    println!("sluice_ms_per_image: {:.2}", secs * 1000.0 / n as f64);
    println!("sluice_images_per_second: {:.1}", n as f64 / secs);
    Ok(())
}

fn walk(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("png"))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
