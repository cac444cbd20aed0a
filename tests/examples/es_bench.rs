//! Helpers for `scripts/bench-es.sh` (not a test):
//!
//! * `produce BOOTSTRAP TOPIC COUNT`: writes COUNT small JSON records (the demo's shape);
//! * `wait URL INDEX COUNT`: waits for the first document in INDEX, then times until COUNT are
//!   there and prints `docs_per_s=...` (so consumer-group joins do not count);
//! * `raw URL INDEX COUNT BATCH CONCURRENCY`: a raw bulk loader, the same documents in bulks of
//!   BATCH with CONCURRENCY requests in flight; prints `docs_per_s=...`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

fn doc(i: usize) -> String {
    let image = ["Google", "Mongo", "Github"][i % 3];
    json!({"image": image, "probability": 50.0 + (i % 50) as f64, "n": i}).to_string()
}

async fn count(client: &reqwest::Client, url: &str, index: &str) -> u64 {
    let Ok(r) = client.get(format!("{url}/_standin/stats")).send().await else {
        return 0;
    };
    let v: Value = r.json().await.unwrap_or(Value::Null);
    v["indices"][index]["docs"].as_u64().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .unwrap_or_else(|| panic!("missing argument {i}"))
    };
    let num = |i: usize| arg(i).parse::<usize>().expect("a number");
    let client = sluice_tests::http_client_builder()
        .build()
        .expect("an HTTP client");
    match arg(0).as_str() {
        "produce" => {
            let producer: FutureProducer = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", arg(1))
                .set("linger.ms", "5")
                .set("queue.buffering.max.messages", "1000000")
                .create()
                .expect("producer");
            let topic = arg(2);
            let n = num(3);
            let mut pending = Vec::with_capacity(10_000);
            for i in 0..n {
                let payload = doc(i);
                let mut record = FutureRecord::<(), String>::to(&topic).payload(&payload);
                // The local queue is bounded: wait for deliveries when it is full.
                let future = loop {
                    match producer.send_result(record) {
                        Ok(f) => break f,
                        Err((_, r)) => {
                            record = r;
                            for p in pending.drain(..) {
                                let _ = p.await;
                            }
                        }
                    }
                };
                pending.push(future);
            }
            for p in pending {
                let _ = p.await;
            }
            producer.flush(Duration::from_secs(60)).expect("flush");
        }
        "wait" => {
            let (url, index, n) = (arg(1), arg(2), num(3) as u64);
            let mut first = 0;
            while first == 0 {
                first = count(&client, &url, &index).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let started = Instant::now();
            let mut last = first;
            while last < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
                last = count(&client, &url, &index).await;
            }
            let secs = started.elapsed().as_secs_f64();
            println!("docs_per_s={:.0}", (n - first) as f64 / secs);
        }
        "raw" => {
            let (url, index, n, batch, concurrency) = (arg(1), arg(2), num(3), num(4), num(5));
            let permits = Arc::new(Semaphore::new(concurrency));
            let started = Instant::now();
            let mut tasks = Vec::new();
            for start in (0..n).step_by(batch) {
                let mut body = String::new();
                for i in start..(start + batch).min(n) {
                    body.push_str(
                        &json!({"index": {"_index": index, "_id": format!("raw+0+{i}")}})
                            .to_string(),
                    );
                    body.push('\n');
                    body.push_str(&doc(i));
                    body.push('\n');
                }
                let permit = permits.clone().acquire_owned().await.expect("permit");
                let (client, url) = (client.clone(), url.clone());
                tasks.push(tokio::spawn(async move {
                    let r = client
                        .post(format!("{url}/_bulk"))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("bulk");
                    assert!(r.status().is_success());
                    drop(permit);
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
            let secs = started.elapsed().as_secs_f64();
            println!("docs_per_s={:.0}", n as f64 / secs);
        }
        other => panic!("unknown mode {other}"),
    }
}
