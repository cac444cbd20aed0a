//! The stand-in over HTTP: headers, auth challenge, content types and faults.

use sluice_es_standin::{Options, start};

#[tokio::test]
async fn root_auth_content_type_and_faults() {
    let options = Options {
        credentials: Some(("elastic".into(), "pw".into())),
        ..Options::default()
    };
    let server = start(0, options, None).await.unwrap();
    let url = server.url();
    // reqwest is built without a crypto provider in this workspace: install ring first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();

    // D.1: no credentials → 401 with the Basic challenge and the product header.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"security\" charset=\"UTF-8\""
    );
    assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "security_exception");

    let r = client
        .get(&url)
        .basic_auth("elastic", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["version"]["number"], "8.11.1");

    // D.1: a text/plain bulk is 406.
    let r = client
        .post(format!("{url}/_bulk"))
        .basic_auth("elastic", Some("pw"))
        .header("content-type", "text/plain")
        .body("{\"index\":{\"_index\":\"t\"}}\n{}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);

    // The compat media type is accepted on an 8.x server.
    let r = client
        .post(format!("{url}/_bulk"))
        .basic_auth("elastic", Some("pw"))
        .header(
            "content-type",
            "application/vnd.elasticsearch+json;compatible-with=8",
        )
        .body("{\"index\":{\"_index\":\"t\",\"_id\":\"1\"}}\n{\"a\":1}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.standin.count("t"), Some(1));

    // HEAD /{index}: 200 / 404, no body.
    let r = client
        .head(format!("{url}/t"))
        .basic_auth("elastic", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .head(format!("{url}/nope"))
        .basic_auth("elastic", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Whole-request 503 for one request, then normal again; control API needs no auth.
    let r = client
        .post(format!("{url}/_standin/faults"))
        .body("{\"fail_status\":503,\"fail_requests\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bulk = || {
        client
            .post(format!("{url}/_bulk"))
            .basic_auth("elastic", Some("pw"))
            .header("content-type", "application/x-ndjson")
            .body("{\"index\":{\"_index\":\"t\",\"_id\":\"2\"}}\n{\"a\":2}\n")
            .send()
    };
    assert_eq!(bulk().await.unwrap().status(), 503);
    assert_eq!(bulk().await.unwrap().status(), 200);
    let stats: serde_json::Value = client
        .get(format!("{url}/_standin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["bulk_requests"], 3);
    assert_eq!(stats["indices"]["t"]["docs"], 2);
}
