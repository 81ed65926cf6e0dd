//! The load generator on a tiny fixture: with its own server (with and without
//! consolidations running) and against a running one; no errors and consistent figures
//! (no timing is asserted).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use autodidact_agent::bench::{self, BenchOptions, BenchReport};
use autodidact_agent::featurizer::FeaturizerSpec;
use autodidact_agent::AgentError;
use common::{config, write_fixture, Server, TempDir, CLIENT};

fn data(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_fixture(&data);
    std::fs::write(
        data.join("test.csv"),
        "text,category\nwhere is my card,card_arrival\nexchange rate for euros,exchange_rate\n\
         my card got stolen,lost_card\ntop up by transfer,top_up\nwhat is the weather,none\n",
    )
    .unwrap();
    data
}

fn check(r: &BenchReport, requests: usize) {
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert_eq!(r.requests, requests);
    assert!(r.seconds > 0.0 && r.requests_per_s.is_finite() && r.requests_per_s > 0.0);
    let l = &r.latency_ms;
    assert!(l.p50 > 0.0, "{l:?}");
    assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert!(l.mean > 0.0 && l.mean <= l.max, "{l:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_bench_on_its_own_server_has_no_errors() {
    let dir = TempDir::new("bench");
    let o = BenchOptions {
        data: data(dir.path()),
        featurizer: FeaturizerSpec::Hashed { dim: 2048 },
        requests: 50,
        concurrency: 4,
        warmup: 4,
        ..BenchOptions::default()
    };
    let r = bench::run(&o).await.unwrap();
    check(&r, 50);
    assert!(r.own_server && r.startup_seconds.is_some());
    assert_eq!(r.encoder_passes.map(|p| p.1), Some(50));
    assert_eq!(r.consolidations, 0);

    let r = bench::run(&BenchOptions {
        consolidate: true,
        ..o.clone()
    })
    .await
    .unwrap();
    check(&r, 50);
    assert!(r.consolidations >= 1, "{r:?}");
    assert_eq!(
        r.consolidation_errors, 0,
        "{:?}",
        r.first_consolidation_error
    );
    // The summary as JSON.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["latency_ms"]["p99"].as_f64(), Some(r.latency_ms.p99));

    // Bad options name the option.
    for (bad, field) in [
        (
            BenchOptions {
                concurrency: 0,
                ..o.clone()
            },
            "concurrency",
        ),
        (
            BenchOptions {
                url: Some("http://127.0.0.1:9".into()),
                ..o.clone()
            },
            "token",
        ),
    ] {
        match bench::run(&bad).await {
            Err(AgentError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a config error on {field}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_bench_against_a_running_server_has_no_errors() {
    let dir = TempDir::new("bench-url");
    let data = data(dir.path());
    let s = Server::start(config(dir.path())).await;
    let r = bench::run(&BenchOptions {
        url: Some(s.url("")),
        token: Some(CLIENT.into()),
        data,
        requests: 40,
        concurrency: 4,
        ..BenchOptions::default()
    })
    .await
    .unwrap();
    check(&r, 40);
    assert!(!r.own_server && r.encoder_passes.is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_with_feedback_and_consolidations_reports_its_time_series() {
    let dir = TempDir::new("soak");
    let o = BenchOptions {
        data: data(dir.path()),
        featurizer: FeaturizerSpec::Hashed { dim: 2048 },
        concurrency: 4,
        warmup: 4,
        seconds: Some(2.0),
        sample_seconds: 0.5,
        feedback_every: 2,
        consolidate: true,
        ..BenchOptions::default()
    };
    let r = bench::run(&o).await.unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert_eq!(
        r.consolidation_errors, 0,
        "{:?}",
        r.first_consolidation_error
    );
    assert!(r.consolidations >= 1, "{r:?}");
    assert!(r.seconds >= 2.0 && r.seconds < 10.0, "{}", r.seconds);
    let answered = (r.requests_per_s * r.seconds).round() as usize;
    assert_eq!(r.requests, answered);
    // Every other message got feedback (the ones numbered 0, 2, 4...).
    assert!(
        r.feedback >= answered / 2 - o.concurrency && r.feedback <= answered / 2 + 1,
        "{r:?}"
    );
    assert!(r.feedback_latency_ms.p50 > 0.0);
    // Requests in flight at the deadline finish in a last, shorter interval.
    let expected = (r.seconds / 0.5).ceil() as usize;
    assert!(expected >= 4);
    assert_eq!(r.intervals.len(), expected, "{:?}", r.intervals);
    assert_eq!(
        r.intervals.iter().map(|i| i.messages).sum::<usize>(),
        answered
    );
    assert_eq!(
        r.intervals.iter().map(|i| i.feedback).sum::<usize>(),
        r.feedback
    );
    for i in &r.intervals {
        assert!(i.messages > 0, "{i:?}");
        assert!(i.rss_mib.is_some_and(|m| m > 1.0), "{i:?}");
    }
    assert!(r.summary().contains("RSS MiB"));

    let bad = BenchOptions {
        seconds: Some(0.0),
        ..o.clone()
    };
    match bench::run(&bad).await {
        Err(AgentError::Config { field, .. }) => assert_eq!(field, "seconds"),
        other => panic!("expected a config error on seconds, got {other:?}"),
    }
}
