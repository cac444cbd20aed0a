//! The classifier on the real sock model (built by `models/sock-classifier/build.sh`, which
//! `scripts/test.sh` runs first) and the real photos in `../shared/socks/`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine;
use sluice_api::{ConnectError, ConnectRecord, Props, Transform, Value};
use sluice_transform_image_classifier::ImageClassifier;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

fn model() -> PathBuf {
    let path = workspace().join("models/sock-classifier/build/sock-classifier.onnx");
    assert!(
        path.is_file(),
        "{} is missing: run models/sock-classifier/build.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

fn labels() -> PathBuf {
    workspace().join("models/sock-classifier/labels.txt")
}

fn props(extra: &[(&str, &str)]) -> Props {
    let mut p: Props = [
        ("model.path", model().display().to_string()),
        ("labels.path", labels().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        p.insert((*k).to_owned(), (*v).to_owned());
    }
    p
}

fn configured(extra: &[(&str, &str)]) -> ImageClassifier {
    let mut t = ImageClassifier::new();
    t.configure(&props(extra)).expect("configures");
    t
}

fn photos() -> Vec<(String, PathBuf)> {
    let dir = workspace().join("../shared/socks");
    let mut out = Vec::new();
    for class in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let class = class.expect("entry").path();
        let brand = class
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("class-"))
            .expect("class-<brand> folders")
            .to_owned();
        for photo in std::fs::read_dir(&class).expect("photos") {
            out.push((brand.clone(), photo.expect("entry").path()));
        }
    }
    out.sort();
    out
}

fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

fn label_of(value: &Value) -> (String, f64) {
    let label = value
        .map_get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let p = match value.map_get("probability") {
        Some(Value::Float64(p)) => *p,
        other => panic!("probability: {other:?}"),
    };
    (label, p)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_photo_gets_its_brand_in_the_camera_shape() {
    let t = configured(&[]);
    let photos = photos();
    assert_eq!(photos.len(), 12, "the shared photos");
    for (brand, path) in photos {
        let bytes = std::fs::read(&path).expect("read photo");
        let record = ConnectRecord::new("frames", Value::Bytes(bytes));
        let out = t.apply(record).await.expect("classified").expect("kept");
        let (label, p) = label_of(&out.value);
        // Folder names are the brand in lower case, sometimes shorter ("streamset").
        assert!(
            label.to_lowercase().starts_with(&brand),
            "{}: {label} ({p:.1} %)",
            path.display()
        );
        assert!((0.0..=100.0).contains(&p));
        assert!(
            out.value_schema.is_none(),
            "schemaless, for the JSON converter"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_with_no_sock_is_blank() {
    let t = configured(&[]);
    for rgb in [[128, 128, 128], [240, 240, 235], [20, 20, 25]] {
        let out = t
            .apply(ConnectRecord::new(
                "frames",
                Value::Bytes(png(320, 240, rgb)),
            ))
            .await
            .expect("classified")
            .expect("kept");
        assert_eq!(label_of(&out.value).0, "Blank", "{rgb:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn base64_fields_top_k_and_headers() {
    let (_, photo) = photos().into_iter().next().expect("a photo");
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(photo).expect("read"));
    let t = configured(&[
        ("input.field", "frame"),
        ("input.encoding", "base64"),
        ("output.mode", "field"),
        ("output.field", "seen"),
        ("top.k", "3"),
    ]);
    let value = Value::Map(vec![
        (Value::from("camera"), Value::from("desk")),
        (Value::from("frame"), Value::from(b64)),
    ]);
    let out = t
        .apply(ConnectRecord::new("frames", value))
        .await
        .expect("classified")
        .expect("kept");
    assert_eq!(
        out.value.map_get("camera"),
        Some(&Value::from("desk")),
        "the rest is kept"
    );
    let seen = out.value.map_get("seen").expect("the result field");
    assert!(matches!(seen.map_get("top"), Some(Value::Array(top)) if top.len() == 3));

    // The least certain photo (about 66 %) falls below a 99 % minimum.
    let unsure = workspace().join("../shared/socks/class-streamset/file_109.jpg");
    let t = configured(&[("output.mode", "header"), ("min.probability", "99")]);
    let out = t
        .apply(ConnectRecord::new(
            "frames",
            Value::Bytes(std::fs::read(unsure).expect("read")),
        ))
        .await
        .expect("classified")
        .expect("kept");
    assert_eq!(
        out.headers
            .last_with_name("image.label")
            .map(|h| h.value.clone()),
        Some(Value::from("Blank")),
        "below min.probability the label is blank.label"
    );
    assert!(
        matches!(out.value, Value::Bytes(_)),
        "header mode keeps the frame"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_are_data_errors_and_bad_files_config_errors() {
    let t = configured(&[]);
    let err = t
        .apply(ConnectRecord::new(
            "frames",
            Value::Bytes(b"not an image".to_vec()),
        ))
        .await
        .err();
    assert!(
        matches!(err, Some(ConnectError::Data(ref m)) if m.contains("cannot decode")),
        "{err:?}"
    );
    let tombstone = t
        .apply(ConnectRecord::new("frames", Value::Null))
        .await
        .expect("ok");
    assert_eq!(
        tombstone.map(|r| r.value),
        Some(Value::Null),
        "tombstones pass through"
    );

    let dir = std::env::temp_dir().join(format!("sluice-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let three = dir.join("three.txt");
    std::fs::write(&three, "a\nb\nc\n").expect("write labels");
    let mut p = props(&[]);
    p.insert("labels.path".into(), three.display().to_string());
    let err = ImageClassifier::new()
        .configure(&p)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("7 outputs") && err.contains("3 labels"),
        "{err}"
    );

    let mut p = props(&[]);
    p.insert("model.path".into(), "/nonexistent/model.onnx".into());
    let err = ImageClassifier::new()
        .configure(&p)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("model.path") && err.contains("/nonexistent/model.onnx"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
