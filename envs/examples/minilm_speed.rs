//! Sentences encoded per second by the MiniLM sentence encoder on BANKING77 messages:
//! `cargo run --release -p autodidact-envs --example minilm_speed -- [--threads T] [MODEL_DIR] [CSV] [N] [BATCH...]`
//! (defaults: 1 thread, `../shared/data/minilm`, `../shared/data/banking77/test.csv`, 1000,
//! 1 32). The timed encoding runs inside a pool of `T` worker threads
//! (`autodidact_core::parallel::pool`), as a learner with `threads = T` runs it: large batches
//! then use every thread, with the same bits as on one.
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

/// CPU seconds this process has used (user + system, every thread), from `/proc/self/stat`:
/// on a machine shared with other work, sentences per CPU second move less than per wall
/// second.
fn cpu_seconds() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start after its ')'.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        });
    // The kernel's clock ticks are 100 per second on Linux (USER_HZ).
    ticks.map_or(f64::NAN, |t| t / 100.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 1usize;
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        let v = args.get(i + 1).ok_or("--threads needs a value")?;
        threads = v
            .parse()
            .map_err(|e| format!("--threads {v}: not a thread count ({e})"))?;
        args.drain(i..i + 2);
    }
    let pool = autodidact_core::parallel::pool(threads)?;
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
        let cpu = cpu_seconds();
        let (e, s) = pool.install(|| {
            let t = Instant::now();
            enc.encode(&texts, b)
                .map(|e| (e, t.elapsed().as_secs_f64()))
        })?;
        let cpu = cpu_seconds() - cpu;
        println!(
            "batch {b:>3}: {} sentences in {s:.2} s = {:.1} sentences/s, {cpu:.2} CPU s = {:.1} sentences per CPU s ({threads} thread{}, peak RSS {:.0} MB, dim {})",
            texts.len(),
            texts.len() as f64 / s,
            texts.len() as f64 / cpu,
            if threads == 1 { "" } else { "s" },
            peak_rss_mb(),
            e.ncols()
        );
        // The matrix products' FLOPs per sentence (attention included), from core's meter on a
        // second, untimed pass over the same sentences.
        let meter = autodidact_core::flops::Meter::start();
        pool.install(|| enc.encode(&texts, b))?;
        let flops = 2.0 * meter.stop() as f64 / texts.len().max(1) as f64;
        println!(
            "batch {b:>3}: matrix products {:.2} MFLOP/sentence, {:.2} GFLOP/s",
            flops / 1e6,
            flops * texts.len() as f64 / s / 1e9
        );
    }
    Ok(())
}
