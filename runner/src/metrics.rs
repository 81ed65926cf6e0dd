//! `metrics.jsonl`: one JSON object per logging step, `{"step": N, "key": value, …}`, keys in
//! a fixed order, numbers written the shortest way that reads back exactly — so the same run
//! gives the same bytes.

use std::path::Path;

use autodidact_core::Metrics;

use crate::errors::{Result, RunnerError};

/// The metrics log's file name in a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One line of the log (with its newline). A metric named `step` is dropped: the runner's
/// step is the line's key.
pub fn format_line(step: u64, metrics: &Metrics) -> String {
    let mut line = format!("{{\"step\":{step}");
    for (k, v) in metrics {
        if k == "step" {
            continue;
        }
        let key = serde_json::to_string(k).unwrap_or_else(|_| "\"?\"".into());
        let value = serde_json::Number::from_f64(*v).map_or("null".to_string(), |n| n.to_string());
        line.push(',');
        line.push_str(&key);
        line.push(':');
        line.push_str(&value);
    }
    line.push_str("}\n");
    line
}

/// A parsed log: `(step, metrics)` per line.
pub type Log = Vec<(u64, Metrics)>;

/// Parses log text (a `null` value is skipped).
pub fn parse_log(path: &Path, text: &str) -> Result<Log> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| RunnerError::parse(path, format!("line {}: {m}", i + 1));
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let step = obj
            .get("step")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad("no integer `step`".into()))?;
        let metrics = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "step")
            .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
            .collect();
        out.push((step, metrics));
    }
    Ok(out)
}

/// Reads and parses `path`.
pub fn read_log(path: &Path) -> Result<Log> {
    let text = crate::errors::read_text(path)?;
    parse_log(path, &text)
}

/// Every key in the log, the headline first, then the others in order.
pub fn keys(log: &Log, headline: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (_, m) in log {
        for k in m.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort();
    if let Some(i) = keys.iter().position(|k| k == headline) {
        let h = keys.remove(i);
        keys.insert(0, h);
    }
    keys
}

/// FNV-1a of bytes (a fixed hash, to check a metrics file against its checkpoint).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_exactly() {
        let mut m = Metrics::new();
        m.insert("loss".into(), 0.1 + 0.2);
        m.insert("acc".into(), 1.0 / 3.0);
        m.insert("step".into(), 99.0);
        let line = format_line(7, &m);
        assert_eq!(
            line,
            "{\"step\":7,\"acc\":0.3333333333333333,\"loss\":0.30000000000000004}\n"
        );
        let log = parse_log(Path::new("m"), &line).unwrap();
        assert_eq!(log[0].0, 7);
        assert_eq!(log[0].1["loss"].to_bits(), (0.1f64 + 0.2).to_bits());
        assert_eq!(keys(&log, "loss"), vec!["loss", "acc"]);
        assert!(parse_log(Path::new("m"), "{\"loss\":1}\n").is_err());
    }
}
