//! Fixtures shared by the integration tests: tiny Omniglot folders and zips, CSVs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// A fresh empty folder under the system temp dir, unique per test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "autodidact-envs-{}-{}-{}",
        name,
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 1-bit grayscale PNG of `size x size`: paper white, with a filled box of ink at a place
/// depending on `(class, drawing)`.
pub fn glyph_png(size: u32, class: usize, drawing: usize) -> Vec<u8> {
    let mut pixels = vec![true; (size * size) as usize]; // true = white paper
    let s = size as usize;
    let x0 = (class * 7) % (s / 2);
    let y0 = (class * 3 + drawing) % (s / 2);
    for y in y0..y0 + s / 3 {
        for x in x0..x0 + s / 4 {
            pixels[y * s + x] = false;
        }
    }
    let row_bytes = s.div_ceil(8);
    let mut data = vec![0u8; row_bytes * s];
    for y in 0..s {
        for x in 0..s {
            if pixels[y * s + x] {
                data[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size, size);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&data).unwrap();
    }
    out
}

/// The files of a tiny Omniglot: `alphabets` x `chars` characters of `drawings` drawings,
/// as (relative path, bytes).
pub fn omniglot_files(
    prefix: &str,
    alphabets: &[&str],
    chars: usize,
    drawings: usize,
    size: u32,
) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (ai, a) in alphabets.iter().enumerate() {
        for c in 0..chars {
            for d in 0..drawings {
                let path = format!(
                    "{prefix}{a}/character{:02}/{:04}_{:02}.png",
                    c + 1,
                    ai * 100 + c,
                    d + 1
                );
                files.push((path, glyph_png(size, ai * chars + c, d)));
            }
        }
    }
    files
}

/// Writes files under `root`.
pub fn write_folder(root: &Path, files: &[(String, Vec<u8>)]) {
    for (rel, bytes) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// A zip archive of the files (with directory entries, as the published zips have).
pub fn zip_bytes(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut dirs = std::collections::BTreeSet::new();
        for (rel, _) in files {
            let mut acc = String::new();
            for part in rel
                .split('/')
                .collect::<Vec<_>>()
                .iter()
                .rev()
                .skip(1)
                .rev()
            {
                acc.push_str(part);
                acc.push('/');
                dirs.insert(acc.clone());
            }
        }
        for d in dirs {
            z.add_directory(d, opts).unwrap();
        }
        for (rel, bytes) in files {
            z.start_file(rel.as_str(), opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

/// A BANKING77-shaped CSV: `classes` intents of `per` texts each, some quoted with commas.
pub fn intents_csv(classes: usize, per: usize, label_header: &str) -> String {
    let words = [
        "card", "transfer", "refund", "top", "up", "pin", "atm", "fee", "exchange", "rate", "cash",
        "lost",
    ];
    let mut s = format!("text,{label_header}\n");
    for c in 0..classes {
        for i in 0..per {
            let w1 = words[c % words.len()];
            let w2 = words[(c * 5 + 1) % words.len()];
            let w3 = words[(i * 7 + c) % words.len()];
            if i % 2 == 0 {
                s.push_str(&format!(
                    "\"My {w1}, {w2} and {w3} question {i}\",intent_{c:02}\n"
                ));
            } else {
                s.push_str(&format!(
                    "why is my {w1} {w2} {w3} not working {i},intent_{c:02}\n"
                ));
            }
        }
    }
    s
}
