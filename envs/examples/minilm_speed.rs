//! Sentences encoded per second by the MiniLM sentence encoder on BANKING77 messages:
//! `cargo run --release -p autodidact-envs --example minilm_speed -- [MODEL_DIR] [CSV] [N] [BATCH...]`
//! (defaults: `../shared/data/minilm`, `../shared/data/banking77/test.csv`, 1000, 1 32).
//! Prints one line per batch size: sentences, seconds, sentences per second, peak RSS.

use std::path::Path;
use std::time::Instant;

use autodidact_envs::intents::read_csv_bytes;
use autodidact_envs::minilm::SentenceEncoder;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args
        .first()
        .map(String::as_str)
        .unwrap_or("../shared/data/minilm");
    let csv = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("../shared/data/banking77/test.csv");
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let batches: Vec<usize> = if args.len() > 3 {
        args[3..]
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![1, 32]
    };
    let t = Instant::now();
    let enc = SentenceEncoder::load(Path::new(model))?;
    println!("load {:.2} s", t.elapsed().as_secs_f64());
    let bytes = std::fs::read(csv)?;
    let rows = read_csv_bytes(&bytes, csv, "text", "")?;
    let texts: Vec<&str> = rows.iter().take(n).map(|r| r.text.as_str()).collect();
    for b in batches {
        let t = Instant::now();
        let e = enc.encode(&texts, b)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "batch {b:>3}: {} sentences in {s:.2} s = {:.1} sentences/s (peak RSS {:.0} MB, dim {})",
            texts.len(),
            texts.len() as f64 / s,
            peak_rss_mb(),
            e.ncols()
        );
    }
    Ok(())
}
