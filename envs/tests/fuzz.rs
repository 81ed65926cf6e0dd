//! Property-based fuzzing of every file a user can feed the environments: gridworld map files,
//! CSV files (intents), PNG images and zip archives (Omniglot). Each case feeds at most
//! `fuzz::MAX_INPUT` bytes, arbitrary or a mutation of a valid file, under the memory cap and
//! time limit of `autodidact_core::testing::fuzz`: the parser returns a valid result or an
//! error naming the file, never panics, hangs or allocates what the input merely declares.
//!
//! `PROPTEST_CASES=N cargo test -p autodidact-envs --test fuzz` runs N cases per property
//! (docs/testing.md records the long runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use autodidact_core::testing::fuzz::{self, arb_input, CountingAllocator, Outcome, MAX_INPUT};
use autodidact_core::{Hyperparams, Seed, TabularModel};
use autodidact_envs::gridworld::{Gridworld, GridworldParams, BUILTIN_MAPS};
use autodidact_envs::intents::read_csv_bytes;
use autodidact_envs::omniglot::{decode_png, read_zip_bytes};
use common::{glyph_png, intents_csv, omniglot_files, zip_bytes};
use proptest::prelude::*;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Cases per property in an ordinary `cargo test` (CI): docs/testing.md has the timings.
const CI_CASES: u32 = 1024;

// ---------------------------------------------------------------- helpers

/// A file in this process's own temp folder, unique per call.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Under cargo's temp folder for integration tests (`target/tmp`), gone with `cargo clean`.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("envs-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{}-{name}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// CRC-32 (ISO-HDLC, as PNG chunks use it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Rewrites the CRC of every whole chunk of a PNG, so a mutation reaches the decoder's chunk
/// and image logic instead of stopping at the checksum.
fn fix_png_crcs(mut png: Vec<u8>) -> Vec<u8> {
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= png.len()) else {
            break;
        };
        let crc = crc32(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    png
}

/// A PNG of `w x h` in the given colour type and depth, with pixel bytes from `fill`.
fn encode_png(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, fill: u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        if color == png::ColorType::Indexed {
            enc.set_palette(vec![0u8, 0, 0, 255, 255, 255, 10, 200, 30]);
            enc.set_trns(vec![255u8, 0]);
        }
        let mut wr = enc.write_header().unwrap();
        let bits = match color {
            png::ColorType::Grayscale | png::ColorType::Indexed => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
        } * depth as usize;
        let row = (w as usize * bits).div_ceil(8);
        let data: Vec<u8> = (0..row * h as usize)
            .map(|i| {
                if color == png::ColorType::Indexed {
                    (i % 3) as u8 & if depth as usize >= 2 { 3 } else { 1 }
                } else {
                    fill.wrapping_add(i as u8)
                }
            })
            .collect();
        wr.write_image_data(&data).unwrap();
    }
    out
}

fn png_seeds() -> Vec<Vec<u8>> {
    use png::{BitDepth as D, ColorType as C};
    vec![
        glyph_png(21, 1, 1),
        glyph_png(105, 3, 2),
        encode_png(7, 5, C::Grayscale, D::Eight, 0),
        encode_png(9, 4, C::Rgb, D::Eight, 40),
        encode_png(3, 11, C::Rgba, D::Sixteen, 7),
        encode_png(6, 6, C::GrayscaleAlpha, D::Eight, 200),
        encode_png(5, 3, C::Indexed, D::Two, 0),
        encode_png(33, 2, C::Grayscale, D::Four, 9),
    ]
}

/// PNG chunk names, header fields and sizes a mutation inserts.
const PNG_TOKENS: &[&[u8]] = &[
    b"IHDR",
    b"IDAT",
    b"IEND",
    b"PLTE",
    b"tRNS",
    b"acTL",
    b"fcTL",
    b"fdAT",
    b"zTXt",
    b"iCCP",
    b"\x00\x00\x10\x00",
    b"\x00\x00\x10\x01",
    b"\x7f\xff\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x01\x00\x00",
    b"\x10\x06\x00\x00\x00",
];

/// A PNG whose IHDR declares `w x h` (any value, even 0 or 2^32 - 1) over a small image's
/// data, checksums fixed: the decoder must not allocate what the header declares.
fn png_declaring(w: u32, h: u32, color: u8, depth: u8) -> Vec<u8> {
    let mut png = encode_png(4, 4, png::ColorType::Grayscale, png::BitDepth::Eight, 3);
    // Signature (8), IHDR length and name (8), then width, height, depth, colour type.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    png[24] = depth;
    png[25] = color;
    fix_png_crcs(png)
}

fn zip_seeds() -> Vec<Vec<u8>> {
    let files = omniglot_files("images_background/", &["Greek", "Latin"], 2, 2, 14);
    let mut stored = std::io::Cursor::new(Vec::new());
    {
        use std::io::Write as _;
        let mut z = zip::ZipWriter::new(&mut stored);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (rel, bytes) in files.iter().take(3) {
            z.start_file(rel.as_str(), opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    vec![
        zip_bytes(&files),
        zip_bytes(&omniglot_files("", &["A"], 1, 1, 7)),
        stored.into_inner(),
    ]
}

/// Zip signatures and size fields a mutation inserts.
const ZIP_TOKENS: &[&[u8]] = &[
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"PK\x06\x07",
    b"PK\x07\x08",
    b"\xff\xff\xff\xff",
    b"\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x00\x00\x40",
    b".png",
    b"../",
    b"/",
];

fn map_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = BUILTIN_MAPS
        .iter()
        .map(|m| m.text.as_bytes().to_vec())
        .collect();
    seeds.push(
        b"S.a#\n.#.b\n...G\n\n; rewards of the lettered goals\na = 2.5\nb = -1\nslip = 0.1\nmax_steps = 50\nstep_reward = -0.01\n"
            .to_vec(),
    );
    seeds.push(b"SLHC\n1..9\n".to_vec());
    seeds
}

/// Map glyphs, legend keys and numbers a mutation inserts.
const MAP_TOKENS: &[&[u8]] = &[
    b"S",
    b"G",
    b"#",
    b".",
    b"\n",
    b"\n\n",
    b"\r\n",
    b"a = ",
    b"z = 1",
    b"slip = ",
    b"max_steps = ",
    b"goal_reward = ",
    b"1e308",
    b"-1e309",
    b"NaN",
    b"inf",
    b"18446744073709551616",
    b"0",
    b"=",
    b";",
    "é".as_bytes(),
    b"\xff",
    b"\t",
];

fn csv_seeds() -> Vec<Vec<u8>> {
    vec![
        intents_csv(3, 4, "label").into_bytes(),
        intents_csv(2, 3, "category").into_bytes(),
        b"\xef\xbb\xbftext,label\n\"a \"\"quoted\"\" one\",x\n\"multi\nline\",y\nplain,z\n"
            .to_vec(),
        b"id,text,extra,category\n1,hello there,,greet\n2,\"bye, now\",q,leave\n".to_vec(),
    ]
}

/// CSV delimiters, quotes and headers a mutation inserts.
const CSV_TOKENS: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"text",
    b"label",
    b"category",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b",,,,,,,,",
];

// ---------------------------------------------------------------- properties

/// A map file (the `map` parameter naming a file): parsed, checked for a goal and turned
/// into the exact model, or refused naming the file and the line.
#[test]
fn gridworld_map_files() {
    let inputs = arb_input(map_seeds(), MAP_TOKENS, 4096);
    fuzz::run("gridworld map file", file!(), CI_CASES, inputs, |bytes| {
        let path = temp_file("map.txt", &bytes);
        let spec = path.display().to_string();
        let shown = spec.clone();
        let out = fuzz::guard("gridworld map file", move || {
            let params = GridworldParams {
                map: spec,
                ..GridworldParams::default()
            };
            let params = params.check().expect("the defaults with a file path pass");
            Gridworld::from_params(&params, Seed(1))
                .map(|g| (g.model().num_states(), g.model().num_actions()))
                .map_err(|e| e.to_string())
        })?;
        std::fs::remove_file(&path).ok();
        match &out {
            Ok((states, actions)) => prop_assert!(*states >= 1 && *actions == 4),
            Err(e) => prop_assert!(
                e.contains(&shown) || e.contains("`map`"),
                "the error does not name the file: {e}"
            ),
        }
        Ok(Outcome::from(&out))
    });
}

/// The same text given inline (`Gridworld::from_ascii`): no file in between.
#[test]
fn gridworld_map_text() {
    let inputs = arb_input(map_seeds(), MAP_TOKENS, 4096);
    fuzz::run("gridworld map text", file!(), CI_CASES, inputs, |bytes| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let out = fuzz::guard("gridworld map text", move || {
            Gridworld::from_ascii(&text)
                .map(|g| g.model().num_states())
                .map_err(|e| e.to_string())
        })?;
        if let Err(e) = &out {
            prop_assert!(
                e.contains("line") || e.contains("slip") || e.contains("max_steps"),
                "{e}"
            );
        }
        Ok(Outcome::from(&out))
    });
}

/// An intents CSV: rows with a text and a label, or an error naming file and line.
#[test]
fn csv_files() {
    let inputs = (arb_input(csv_seeds(), CSV_TOKENS, 4096), any::<bool>());
    fuzz::run(
        "intents CSV",
        file!(),
        CI_CASES,
        inputs,
        |(bytes, category)| {
            let label = if category { "category" } else { "" };
            let out = fuzz::guard("intents CSV", move || {
                read_csv_bytes(&bytes, "fuzz.csv", "text", label).map_err(|e| e.to_string())
            })?;
            match &out {
                Ok(rows) => {
                    for r in rows {
                        prop_assert!(!r.text.trim().is_empty() && !r.label.trim().is_empty());
                        prop_assert!(r.line >= 2, "a data row on line {}", r.line);
                    }
                }
                Err(e) => prop_assert!(e.starts_with("fuzz.csv, line "), "{e}"),
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A PNG image (Omniglot's drawings): luminance in 0..=1 of the declared size, or an error
/// naming the file. Half the mutations get their chunk checksums fixed.
#[test]
fn png_images() {
    let inputs = (arb_input(png_seeds(), PNG_TOKENS, 2048), any::<bool>());
    fuzz::run("PNG images", file!(), CI_CASES, inputs, |(bytes, fix)| {
        let bytes = if fix { fix_png_crcs(bytes) } else { bytes };
        let out = fuzz::guard("PNG decoder", move || {
            decode_png(&bytes, "fuzz.png").map_err(|e| e.to_string())
        })?;
        match &out {
            Ok((w, h, lum)) => {
                prop_assert_eq!(lum.len(), w * h);
                prop_assert!(lum.iter().all(|v| (0.0..=1.0).contains(v)));
            }
            Err(e) => prop_assert!(e.starts_with("fuzz.png: "), "{e}"),
        }
        Ok(Outcome::from(&out))
    });
}

/// A PNG declaring any size over a few bytes of data: refused (or decoded) without
/// allocating for the declared size.
#[test]
fn png_declared_sizes() {
    let side = || prop_oneof![0u32..64, 4000u32..4200, any::<u32>()];
    let inputs = (
        side(),
        side(),
        prop_oneof![Just(0u8), Just(2), Just(3), Just(4), Just(6), any::<u8>()],
        prop_oneof![Just(1u8), Just(8), Just(16), any::<u8>()],
    );
    fuzz::run(
        "PNG declared sizes",
        file!(),
        CI_CASES,
        inputs,
        |(w, h, color, depth)| {
            let bytes = png_declaring(w, h, color, depth);
            let out = fuzz::guard("PNG decoder (declared size)", move || {
                decode_png(&bytes, "fuzz.png")
                    .map(|(w, h, _)| (w, h))
                    .map_err(|e| e.to_string())
            })?;
            if let Err(e) = &out {
                prop_assert!(e.starts_with("fuzz.png: "), "{e}");
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A zip archive of drawings: characters and counts, or an error naming the archive (and
/// the entry).
#[test]
fn zip_archives() {
    let inputs = (arb_input(zip_seeds(), ZIP_TOKENS, MAX_INPUT), 1usize..40);
    fuzz::run(
        "zip archives",
        file!(),
        CI_CASES,
        inputs,
        |(bytes, size)| {
            let out = fuzz::guard("zip loader", move || {
                read_zip_bytes(&bytes, "fuzz.zip", size).map_err(|e| e.to_string())
            })?;
            match &out {
                Ok(chars) => prop_assert!(chars.iter().all(|(_, n)| *n >= 1)),
                Err(e) => prop_assert!(e.starts_with("fuzz.zip"), "{e}"),
            }
            Ok(Outcome::from(&out))
        },
    );
}

/// A zip whose headers declare any sizes (local and central directory, compressed and not)
/// over small entries: refused or read without allocating for the declared size.
fn zip_declaring(compressed: u32, size: u32, which: u8) -> Vec<u8> {
    let mut z = zip_bytes(&omniglot_files("", &["A"], 1, 2, 7));
    let mut at = 0;
    while at + 30 <= z.len() {
        let field = match &z[at..at + 4] {
            b"PK\x03\x04" => Some(18),
            b"PK\x01\x02" => Some(20),
            _ => None,
        };
        if let Some(f) = field {
            if which & 1 == 1 {
                z[at + f..at + f + 4].copy_from_slice(&compressed.to_le_bytes());
            }
            if which & 2 == 2 {
                z[at + f + 4..at + f + 8].copy_from_slice(&size.to_le_bytes());
            }
        }
        at += 1;
    }
    z
}

#[test]
fn zip_declared_sizes() {
    let size = || prop_oneof![0u32..1024, (60u32 << 20)..(70u32 << 20), any::<u32>()];
    let inputs = (size(), size(), 1u8..4);
    fuzz::run(
        "zip declared sizes",
        file!(),
        CI_CASES,
        inputs,
        |(c, u, which)| {
            let bytes = zip_declaring(c, u, which);
            let out = fuzz::guard("zip loader (declared sizes)", move || {
                read_zip_bytes(&bytes, "fuzz.zip", 7).map_err(|e| e.to_string())
            })?;
            if let Err(e) = &out {
                prop_assert!(e.starts_with("fuzz.zip"), "{e}");
            }
            Ok(Outcome::from(&out))
        },
    );
}

// ---------------------------------------------------------------- regressions and checks

/// The guard itself: a panic, an over-cap allocation and the allocator's absence are caught.
#[test]
fn the_guard_catches_panics_and_runaway_allocations() {
    let e = fuzz::guard("a panicking parser", || -> u8 { panic!("boom") }).unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
    let e = fuzz::guard_with(
        "a greedy parser",
        1 << 20,
        std::time::Duration::from_secs(60),
        || std::hint::black_box(vec![1u8; 4 << 20]).len(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("over the cap"), "{e}");
    let (n, m) = fuzz::guard_with(
        "a modest parser",
        1 << 20,
        std::time::Duration::from_secs(60),
        || std::hint::black_box(vec![1u8; 1000]).len(),
    )
    .unwrap();
    assert_eq!(n, 1000);
    assert!(m.peak_bytes >= 1000, "{m:?}");
}

/// A valid PNG at the largest accepted size (4096 x 4096 grayscale, a few KiB of deflate)
/// decodes under the memory cap: the cap leaves room for every legitimate input.
#[test]
fn the_largest_accepted_png_fits_the_cap() {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 4096, 4096);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&vec![255u8; 4096 * 4096]).unwrap();
    }
    assert!(out.len() <= MAX_INPUT, "{} bytes", out.len());
    let (dims, m) = fuzz::guard_with(
        "PNG decoder (largest image)",
        fuzz::MEMORY_CAP,
        fuzz::TIME_LIMIT,
        move || decode_png(&out, "big.png").map(|(w, h, _)| (w, h)).unwrap(),
    )
    .unwrap();
    assert_eq!(dims, (4096, 4096));
    eprintln!("largest accepted PNG: peak {} MiB", m.peak_bytes >> 20);
}

/// Found by `png_declared_sizes`: a 60-byte PNG whose header declares 4096 x 4096 pixels made
/// the decoder allocate its 64 MiB buffer before finding the data missing. Now refused from
/// the header, naming the file and the size.
#[test]
fn a_png_declaring_more_pixels_than_it_holds_is_refused_before_allocating() {
    let bytes = png_declaring(4096, 4096, 0, 8);
    assert!(bytes.len() < 100, "{}", bytes.len());
    let (e, m) = fuzz::guard_with(
        "PNG decoder (declared size)",
        1 << 20,
        fuzz::TIME_LIMIT,
        move || decode_png(&bytes, "big.png").unwrap_err().to_string(),
    )
    .unwrap();
    assert!(
        e.starts_with("big.png: not a readable PNG image: 4096x4096 pixels need 16781312 bytes"),
        "{e}"
    );
    assert!(e.contains("truncated or damaged"), "{e}");
    assert!(m.peak_bytes < 1 << 20, "{m:?}");
}

/// Found by `zip_declared_sizes`: a 1 KiB zip whose headers declare a 64 MiB entry made the
/// loader reserve 64 MiB before reading a byte. Now it reserves what the entry's compressed
/// bytes can hold, and the entry is read (or refused) as it really is.
#[test]
fn a_zip_declaring_a_huge_entry_does_not_reserve_it() {
    let bytes = zip_declaring(0, 64 << 20, 2);
    assert!(bytes.len() < 4096, "{}", bytes.len());
    let (out, m) = fuzz::guard_with(
        "zip loader (declared size)",
        4 << 20,
        fuzz::TIME_LIMIT,
        move || read_zip_bytes(&bytes, "big.zip", 7).map_err(|e| e.to_string()),
    )
    .unwrap();
    if let Err(e) = out {
        assert!(e.starts_with("big.zip"), "{e}");
    }
    assert!(m.peak_bytes < 4 << 20, "{m:?}");
}

/// Found by `csv_files` (20,000 cases): after a header ending in `\r\n` and a blank line, the
/// csv reader's line count put the first data row (line 3) on line 1, so an error about it
/// would have named the wrong line. Lines now come from byte offsets.
#[test]
fn csv_rows_after_a_crlf_header_and_a_blank_line_have_their_own_line() {
    let rows = read_csv_bytes(
        b"id,text,extra,category\r\n\n1,hello there,,greet\n2,\"bye, now\",q,leave\n",
        "f.csv",
        "text",
        "",
    )
    .unwrap();
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 4]);
    let e = read_csv_bytes(b"text,label\r\n\r\n\r\nhello,\n", "f.csv", "text", "")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "f.csv, line 4: the row has no `label` (label) value");
    // Found by the long run (50,000 cases): a lone `\r` ends a line too.
    let rows = read_csv_bytes(b"id,text,\rid,text,i", "f.csv", "text", "").unwrap();
    assert_eq!(rows[0].line, 2);
}
