//! `sluice-camera`: publishes what the sock camera would, to MQTT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use sluice_camera_sim::{
    BLANK, DEFAULT_SCRIPT, Noise, PhotoLibrary, Rng, SimFrame, blank_jpeg, frames, parse_script,
};
use tokio::time::Instant;
use tracing::{error, info, warn};

/// Publishes the sock camera's classifications (or JPEG frames) to MQTT from a scripted
/// sequence of socks, with the camera's noise.
#[derive(Debug, Parser)]
#[command(name = "sluice-camera", version)]
struct Cli {
    /// MQTT broker URI (tcp://HOST:PORT or mqtt://HOST:PORT).
    #[arg(long, default_value = "tcp://127.0.0.1:1883")]
    broker: String,
    /// MQTT topic.
    #[arg(long, default_value = "sockfound")]
    topic: String,
    /// Script file, one `LABEL DURATION` per line (e.g. `Google 3s`); default: a built-in
    /// sequence of two pairs and an odd sock.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Seed of the noise (same seed, same frames).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean frames per second (jittered by ±12.5 %).
    #[arg(long, default_value_t = 3.5)]
    rate: f64,
    /// Time factor: 10 plays the script ten times faster (same frames, shorter waits).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Chance that a frame with a sock in view is a single wrong label.
    #[arg(long, default_value_t = 0.06)]
    wrong_frame: f64,
    /// Chance that a frame with nothing in view is a single sock label.
    #[arg(long, default_value_t = 0.03)]
    phantom_frame: f64,
    /// Repeat the script until stopped (or until --count).
    #[arg(long = "loop")]
    repeat: bool,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Publish JPEG frames from this folder (one subfolder of photos per label, e.g.
    /// class-google/) instead of JSON classifications; blank frames are generated.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
    /// MQTT user name.
    #[arg(long)]
    username: Option<String>,
    /// MQTT password (or SLUICE_CAMERA_PASSWORD).
    #[arg(long, env = "SLUICE_CAMERA_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// QoS of the messages (the camera used 0).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// MQTT client id.
    #[arg(long, default_value = "sluice-camera")]
    client_id: String,
    /// Also print each JSON message on stdout.
    #[arg(long)]
    print: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::from(2)
        }
    }
}

/// What one frame publishes.
enum Payload {
    Json(String),
    Jpeg(Vec<u8>),
}

async fn run(cli: Cli) -> Result<(), String> {
    let script_text = match &cli.script {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => DEFAULT_SCRIPT.to_owned(),
    };
    let script = parse_script(&script_text).map_err(|e| e.to_string())?;
    if !(cli.rate > 0.0 && cli.speed > 0.0) {
        return Err("--rate and --speed must be positive".into());
    }
    let photos = match &cli.images {
        Some(dir) => {
            let library = PhotoLibrary::open(dir).map_err(|e| e.to_string())?;
            for segment in &script {
                if segment.label != BLANK && library.photos(&segment.label).is_none() {
                    return Err(format!(
                        "no photos for {} under {} (folders: {})",
                        segment.label,
                        dir.display(),
                        library.labels().join(", ")
                    ));
                }
            }
            Some(library)
        }
        None => None,
    };
    let mut noise = Noise {
        rate: cli.rate,
        wrong_frame: cli.wrong_frame,
        phantom_frame: cli.phantom_frame,
        ..Noise::default()
    };
    if let Some(library) = &photos {
        // Wrong frames can only show photos that exist.
        noise.labels = script
            .iter()
            .filter(|s| s.label != BLANK && library.photos(&s.label).is_some())
            .map(|s| s.label.clone())
            .collect();
        noise.labels.dedup();
    }
    let qos = match cli.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let (host, port) = parse_broker(&cli.broker)?;
    let mut options = MqttOptions::new(&cli.client_id, host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024);
    if let Some(username) = &cli.username {
        options.set_credentials(username, cli.password.clone().unwrap_or_default());
    }
    let (client, eventloop) = AsyncClient::new(options, 256);
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
    let driver = tokio::spawn(drive(eventloop, connected_tx));
    match tokio::time::timeout(Duration::from_secs(15), connected_rx).await {
        Ok(Ok(())) => info!(broker = %cli.broker, topic = %cli.topic, "connected"),
        _ => return Err(format!("could not connect to {} within 15 s", cli.broker)),
    }

    let mut rng = Rng::new(cli.seed);
    let mut image_rng = Rng::new(cli.seed ^ 0x5EED);
    let pass_ms: u64 = script.iter().map(|s| s.duration_ms).sum();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut pass = 0u64;
    let publishing = async {
        loop {
            for frame in frames(&script, &noise, &mut rng, pass * pass_ms) {
                if cli.count.is_some_and(|count| sent >= count) {
                    return Ok::<(), String>(());
                }
                let due =
                    started + Duration::from_secs_f64(frame.at_ms as f64 / 1000.0 / cli.speed);
                tokio::time::sleep_until(due).await;
                let payload = payload(&frame, photos.as_ref(), &mut image_rng)?;
                let bytes = match payload {
                    Payload::Json(json) => {
                        if cli.print {
                            println!("{json}");
                        }
                        json.into_bytes()
                    }
                    Payload::Jpeg(jpeg) => jpeg,
                };
                client
                    .publish(&cli.topic, qos, false, bytes)
                    .await
                    .map_err(|e| format!("publishing failed: {e}"))?;
                sent += 1;
            }
            pass += 1;
            if !cli.repeat {
                return Ok(());
            }
        }
    };
    let result = tokio::select! {
        result = publishing => result,
        () = shutdown_signal() => {
            info!("signal received: stopping");
            Ok(())
        }
    };
    info!(messages = sent, "disconnecting");
    let _ = client.disconnect().await;
    // The event loop ends once the disconnect is written, after every queued message.
    if tokio::time::timeout(Duration::from_secs(10), driver)
        .await
        .is_err()
    {
        warn!("the MQTT connection did not close within 10 s");
    }
    result
}

fn payload(
    frame: &SimFrame,
    photos: Option<&PhotoLibrary>,
    rng: &mut Rng,
) -> Result<Payload, String> {
    let Some(library) = photos else {
        return Ok(Payload::Json(frame.to_json()));
    };
    if frame.label == BLANK {
        if let Some(blank) = library.photos(BLANK) {
            let path = &blank[(rng.next_u64() % blank.len() as u64) as usize];
            return read_photo(path);
        }
        return Ok(Payload::Jpeg(blank_jpeg(rng)));
    }
    match library.photos(&frame.label) {
        Some(list) => read_photo(&list[(rng.next_u64() % list.len() as u64) as usize]),
        None => Ok(Payload::Jpeg(blank_jpeg(rng))),
    }
}

fn read_photo(path: &std::path::Path) -> Result<Payload, String> {
    std::fs::read(path)
        .map(Payload::Jpeg)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Polls the MQTT event loop (which also reconnects) until the disconnect is sent.
async fn drive(mut eventloop: EventLoop, connected: tokio::sync::oneshot::Sender<()>) {
    let mut connected = Some(connected);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Some(tx) = connected.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                warn!("MQTT connection: {e}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn parse_broker(uri: &str) -> Result<(String, u16), String> {
    let rest = uri
        .strip_prefix("tcp://")
        .or_else(|| uri.strip_prefix("mqtt://"))
        .unwrap_or(uri);
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.trim_end_matches('/')
                .parse()
                .map_err(|_| format!("bad port in {uri}"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(format!("no host in {uri}"));
    }
    Ok((host.to_owned(), port))
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
