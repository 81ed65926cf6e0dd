//! Omniglot (Lake et al., 2015) from its published layout,
//! `<alphabet>/<character>/<drawing>.png` (105x105, 1-bit), read from folders or straight
//! from the zip files; several may be given and a folder may hold the zips.
//!
//! A character is identified by `<alphabet>/<character>`, so one that appears in two sources
//! (Greek and Latin are in both "small" background zips) counts once; of drawings with the
//! same file name the first read is kept. Images are decoded once, downscaled by area
//! averaging to `image_size` (28), stored as ink = 1.0, paper = 0.0, one contiguous `f32`
//! buffer per class, and cached for the process. Optional 90/180/270° rotations make new
//! classes that stay in their character's split; optional small random shifts and turns of
//! every training image (`max_shift`, `max_angle`) are Santoro et al.'s augmentation.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use autodidact_core::config::{check_range, OneOrMany};
use autodidact_core::{
    Config, EnvInstance, EnvKind, Hyperparams, Rng, Seed, Split, Task, TaskDistribution, TaskKind,
};
use serde::{Deserialize, Serialize};

use crate::classification::{ClassSplits, FewShotClassification, LabelledDataset, SplitMode};
use crate::error::{EnvsError, Result};
use crate::jitter::Jitter;

/// The largest image side accepted (larger files are refused, not decoded).
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// The largest zip entry read.
const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// The most bytes deflate (PNG's and zip's compression) can expand one byte into.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Parameters of [`Omniglot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = OmniglotParams::relations)]
pub struct OmniglotParams {
    /// Folders and/or zip files (a string or a list).
    #[param(min_len = 1)]
    pub data_dir: OneOrMany<String>,
    /// Side of the downscaled images.
    #[param(min = 1, max = 105)]
    pub image_size: usize,
    /// Add 90/180/270° rotations of every character as new classes.
    pub rotations: bool,
    /// Shift every training image by up to this many whole pixels on each axis, drawn per
    /// image (0: off); validation and test images are never altered.
    #[param(max = 105)]
    pub max_shift: usize,
    /// Turn every training image by up to this many degrees either way, drawn per image (0:
    /// off); validation and test images are never altered.
    #[param(min = 0, max = 180)]
    pub max_angle: f64,
    /// Classes per episode (N).
    #[param(min = 1, max = 100_000)]
    pub ways: usize,
    /// Support examples per class (K).
    #[param(min = 1, max = 10_000)]
    pub shots: usize,
    /// Query examples per class.
    #[param(max = 100_000)]
    pub queries: usize,
    /// Share of characters for meta-training (when no lists are given).
    #[param(min = 0, max = 1)]
    pub train_fraction: f64,
    /// Share of characters for validation (the rest is test).
    pub validation_fraction: f64,
    /// Seed of the character split (unset: derived from the run's seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// How the characters are divided: `train-validation-test`, or `test-only` (every class a
    /// test class, to evaluate a trained model on new data with `autodidact eval`).
    pub split: SplitMode,
    /// Training characters or alphabets (`Greek/character01`, `Greek`); with the other two
    /// lists it replaces the seeded split.
    pub train_classes: Vec<String>,
    /// Validation characters or alphabets.
    pub validation_classes: Vec<String>,
    /// Test characters or alphabets.
    pub test_classes: Vec<String>,
}

impl Default for OmniglotParams {
    fn default() -> Self {
        OmniglotParams {
            data_dir: vec!["../shared/data/omniglot".to_string()].into(),
            image_size: 28,
            rotations: false,
            max_shift: 0,
            max_angle: 0.0,
            ways: 5,
            shots: 1,
            queries: 15,
            train_fraction: 0.6,
            validation_fraction: 0.2,
            split_seed: None,
            split: SplitMode::TrainValidationTest,
            train_classes: Vec::new(),
            validation_classes: Vec::new(),
            test_classes: Vec::new(),
        }
    }
}

impl OmniglotParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        check_range(
            "validation_fraction",
            self.validation_fraction,
            0.0,
            1.0 - self.train_fraction,
        )?;
        // A shift of a whole side or more would move every image out of its frame.
        check_range(
            "max_shift",
            self.max_shift as f64,
            0.0,
            self.image_size.saturating_sub(1) as f64,
        )?;
        Ok(())
    }
}

/// Decodes a PNG (any colour type and depth) into its width, height and luminance in
/// `0 ..= 1`; `name` is used in errors.
pub fn decode_png(bytes: &[u8], name: &str) -> Result<(usize, usize, Vec<f32>)> {
    let err = |reason: String| EnvsError::Image {
        file: name.to_string(),
        reason,
    };
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: 64 << 20 });
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| err(e.to_string()))?;
    let (w, h) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if w == 0 || h == 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return Err(err(format!(
            "{w}x{h} pixels is outside 1 ..= {MAX_IMAGE_SIDE} per side"
        )));
    }
    // Deflate packs at most 1032 bytes into one: a header declaring more pixel data than the
    // file can hold is refused before the image buffer is allocated for the declared size.
    let needed = reader.info().raw_bytes();
    if needed > bytes.len().saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(err(format!(
            "{w}x{h} pixels need {needed} bytes of pixel data, more than the file's {} bytes can hold (deflate packs at most {MAX_DEFLATE_RATIO}:1): truncated or damaged",
            bytes.len()
        )));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| err("image too large".into()))?;
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| err(e.to_string()))?;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(err("palette not expanded".into())),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(err(format!(
            "unexpected bit depth {:?} after expansion",
            frame.bit_depth
        )));
    }
    let stride = frame.line_size;
    if stride < w * channels || buf.len() < stride * h {
        return Err(err("truncated pixel data".into()));
    }
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &buf[y * stride..y * stride + w * channels];
        for px in row.chunks_exact(channels) {
            let l = if channels >= 3 {
                0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])
            } else {
                f32::from(px[0])
            };
            out.push(l / 255.0);
        }
    }
    Ok((w, h, out))
}

/// Area-averaging resize of a `w x h` image to `size x size`.
/// Returns zeros when `src` holds fewer than `w * h` values.
pub fn resize_area(src: &[f32], w: usize, h: usize, size: usize) -> Vec<f32> {
    if w == 0 || h == 0 || src.len() < w.saturating_mul(h) {
        return vec![0.0; size * size];
    }
    let weights = |n_in: usize| -> Vec<Vec<(usize, f32)>> {
        let scale = n_in as f64 / size as f64;
        (0..size)
            .map(|o| {
                let (a, b) = (o as f64 * scale, (o + 1) as f64 * scale);
                let mut ws = Vec::new();
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < n_in {
                    let cover = (b.min(i as f64 + 1.0) - a.max(i as f64)) / scale;
                    if cover > 0.0 {
                        ws.push((i, cover as f32));
                    }
                    i += 1;
                }
                ws
            })
            .collect()
    };
    let (wx, wy) = (weights(w), weights(h));
    // Horizontal pass, then vertical.
    let mut tmp = vec![0.0f32; h * size];
    for y in 0..h {
        for (ox, ws) in wx.iter().enumerate() {
            tmp[y * size + ox] = ws.iter().map(|&(i, k)| src[y * w + i] * k).sum();
        }
    }
    let mut out = vec![0.0f32; size * size];
    for (oy, ws) in wy.iter().enumerate() {
        for ox in 0..size {
            out[oy * size + ox] = ws.iter().map(|&(i, k)| tmp[i * size + ox] * k).sum();
        }
    }
    out
}

/// The `size x size` image rotated 90° clockwise.
pub fn rotate90(img: &[f32], size: usize) -> Vec<f32> {
    let mut out = vec![0.0; size * size];
    for r in 0..size {
        for c in 0..size {
            out[r * size + c] = img[(size - 1 - c) * size + r];
        }
    }
    out
}

/// A line about images whose size differs from the most common one (ties: the smaller
/// size counts as the common one), with their count and the first such file; `None` when
/// all images have one size.
pub(crate) fn odd_sizes(sizes: &BTreeMap<(usize, usize), (usize, String)>) -> Option<String> {
    let (&(cw, ch), _) = sizes.iter().rev().max_by_key(|(_, (count, _))| *count)?;
    let odd: Vec<_> = sizes.iter().filter(|(&k, _)| k != (cw, ch)).collect();
    let (&(w, h), (_, example)) = *odd.first()?;
    let count: usize = odd.iter().map(|(_, (n, _))| n).sum();
    let total: usize = sizes.values().map(|(n, _)| n).sum();
    Some(format!(
        "{count} of {total} images are not {cw}x{ch} like the others and were resampled anyway, e.g. {example} ({w}x{h})"
    ))
}

/// Collects drawings by character while reading sources.
struct Collector {
    size: usize,
    /// character -> drawing file name -> image (ink = 1).
    chars: BTreeMap<String, BTreeMap<String, Vec<f32>>>,
    /// (width, height) -> how many images had it and the first of them.
    sizes: BTreeMap<(usize, usize), (usize, String)>,
}

impl Collector {
    /// Adds one PNG given by its path components (…, alphabet, character, drawing).
    fn add(&mut self, components: &[&str], bytes: &[u8], display: &str) -> Result<()> {
        let n = components.len();
        if n < 3 {
            return Err(EnvsError::Image {
                file: display.to_string(),
                reason: "expected the layout <alphabet>/<character>/<drawing>.png".into(),
            });
        }
        let key = format!("{}/{}", components[n - 3], components[n - 2]);
        let drawing = components[n - 1].to_string();
        let entry = self.chars.entry(key).or_default();
        if entry.contains_key(&drawing) {
            return Ok(());
        }
        let (w, h, lum) = decode_png(bytes, display)?;
        self.sizes
            .entry((w, h))
            .or_insert_with(|| (0, display.to_string()))
            .0 += 1;
        let ink: Vec<f32> = lum.iter().map(|v| 1.0 - v).collect();
        let img = if w == self.size && h == self.size {
            ink
        } else {
            resize_area(&ink, w, h, self.size)
        };
        entry.insert(drawing, img);
        Ok(())
    }

    fn add_zip_bytes(&mut self, bytes: &[u8], display: &str) -> Result<()> {
        let zerr = |e: zip::result::ZipError| EnvsError::Zip {
            file: display.to_string(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(zerr)?;
            if file.is_dir() {
                continue;
            }
            let name = file.name().map_err(zerr)?.to_string();
            if !name.to_ascii_lowercase().ends_with(".png") {
                continue;
            }
            let entry_display = format!("{display}!{name}");
            if file.size() > MAX_ENTRY_BYTES {
                return Err(EnvsError::Image {
                    file: entry_display,
                    reason: format!("{} bytes is too large for an image", file.size()),
                });
            }
            // Reserve what the entry can really hold, not what its header declares: its
            // compressed bytes lie inside the archive, and deflate expands at most 1032:1.
            let ratio = match file.compression() {
                zip::CompressionMethod::Stored => 1,
                _ => MAX_DEFLATE_RATIO as u64,
            };
            let holds = file
                .compressed_size()
                .min(bytes.len() as u64)
                .saturating_mul(ratio);
            let mut data = Vec::with_capacity(file.size().min(holds) as usize);
            // `take`: the declared size may lie (a zip bomb must not exhaust memory).
            (&mut file)
                .take(MAX_ENTRY_BYTES)
                .read_to_end(&mut data)
                .map_err(|e| EnvsError::Zip {
                    file: entry_display.clone(),
                    reason: e.to_string(),
                })?;
            let components: Vec<&str> = name.split(['/', '\\']).filter(|c| !c.is_empty()).collect();
            self.add(&components, &data, &entry_display)?;
        }
        Ok(())
    }

    fn add_path(&mut self, path: &Path, root: &Path) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|e| EnvsError::io(path, e))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| EnvsError::io(path, e))?
                .map(|e| e.map(|e| e.path()).map_err(|err| EnvsError::io(path, err)))
                .collect::<Result<_>>()?;
            entries.sort();
            for p in entries {
                let lower = p.to_string_lossy().to_ascii_lowercase();
                if p.is_dir() || lower.ends_with(".zip") || lower.ends_with(".png") {
                    self.add_path(&p, root)?;
                }
            }
            return Ok(());
        }
        let bytes = std::fs::read(path).map_err(|e| EnvsError::io(path, e))?;
        let display = path.display().to_string();
        if display.to_ascii_lowercase().ends_with(".zip") || bytes.starts_with(b"PK\x03\x04") {
            return self.add_zip_bytes(&bytes, &display);
        }
        let rel = path.strip_prefix(root).unwrap_or(path);
        let mut components: Vec<String> = Vec::new();
        if let Some(name) = root.file_name() {
            components.push(name.to_string_lossy().into_owned());
        }
        components.extend(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
        let refs: Vec<&str> = components.iter().map(String::as_str).collect();
        self.add(&refs, &bytes, &display)
    }
}

/// Reads Omniglot images from a zip archive held in memory (for tests and fuzzing): every
/// `…/<alphabet>/<character>/<drawing>.png` entry, downscaled to `size`. Returns the
/// characters and their drawing count.
pub fn read_zip_bytes(bytes: &[u8], name: &str, size: usize) -> Result<Vec<(String, usize)>> {
    let mut c = Collector {
        size: size.max(1),
        chars: BTreeMap::new(),
        sizes: BTreeMap::new(),
    };
    c.add_zip_bytes(bytes, name)?;
    Ok(c.chars.into_iter().map(|(k, v)| (k, v.len())).collect())
}

fn load_uncached(paths: &[String], size: usize, rotations: bool) -> Result<LabelledDataset> {
    let mut c = Collector {
        size,
        chars: BTreeMap::new(),
        sizes: BTreeMap::new(),
    };
    for p in paths {
        if p.trim().is_empty() {
            return Err(EnvsError::param(
                "data_dir",
                "an empty path: give an Omniglot folder or zip file",
            ));
        }
        let path = Path::new(p);
        if !path.exists() {
            return Err(EnvsError::MissingData {
                path: p.clone(),
                reason: "no such file or folder".into(),
                expected: "an Omniglot folder (<alphabet>/<character>/<drawing>.png) or one of its zip files (images_background.zip)".into(),
            });
        }
        c.add_path(path, path)?;
    }
    if c.chars.is_empty() {
        return Err(EnvsError::MissingData {
            path: paths.join(", "),
            reason: "no PNG image found".into(),
            expected: "<alphabet>/<character>/<drawing>.png files, in folders or zip files".into(),
        });
    }
    // Every image is resampled to `size`, but one whose size differs from the others' is
    // probably not an Omniglot drawing (or a damaged one): say so once per data set.
    if let Some(note) = odd_sizes(&c.sizes) {
        eprintln!("warning: omniglot: {note}");
    }
    let mut data = LabelledDataset::new("omniglot", vec![1, size, size]);
    let rots: &[usize] = if rotations { &[0, 90, 180, 270] } else { &[0] };
    for (name, drawings) in c.chars {
        for &deg in rots {
            let mut buf = Vec::with_capacity(drawings.len() * size * size);
            for img in drawings.values() {
                let mut im = img.clone();
                for _ in 0..deg / 90 {
                    im = rotate90(&im, size);
                }
                buf.extend_from_slice(&im);
            }
            let class = if deg == 0 {
                name.clone()
            } else {
                format!("{name}@{deg}")
            };
            data.push_class(class, name.clone(), buf)?;
        }
    }
    Ok(data)
}

type CacheKey = (
    Vec<(String, u64, Option<std::time::SystemTime>)>,
    usize,
    bool,
);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<LabelledDataset>>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<LabelledDataset>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Omniglot few-shot episodes.
#[derive(Clone, Debug)]
pub struct Omniglot {
    sampler: FewShotClassification,
    /// Applied to the images of training episodes.
    jitter: Jitter,
}

impl Omniglot {
    /// Loads (or takes from the process cache) the decoded images named by `data_dir`.
    pub fn load_dataset(p: &OmniglotParams) -> Result<Arc<LabelledDataset>> {
        let mut key_paths = Vec::new();
        for d in &p.data_dir {
            let meta = std::fs::metadata(d).ok();
            let canon = std::fs::canonicalize(d)
                .map(|c| c.display().to_string())
                .unwrap_or_else(|_| d.clone());
            key_paths.push((
                canon,
                meta.as_ref().map(|m| m.len()).unwrap_or(0),
                meta.and_then(|m| m.modified().ok()),
            ));
        }
        let key: CacheKey = (key_paths, p.image_size, p.rotations);
        if let Ok(c) = cache().lock() {
            if let Some(d) = c.get(&key) {
                return Ok(d.clone());
            }
        }
        let data = Arc::new(load_uncached(
            &p.data_dir,
            p.image_size.max(1),
            p.rotations,
        )?);
        if let Ok(mut c) = cache().lock() {
            c.insert(key, data.clone());
        }
        Ok(data)
    }

    /// Loads the images and splits the characters (by `split_seed`, else `seed`, or by the
    /// given lists).
    pub fn load(p: &OmniglotParams, seed: Seed) -> Result<Omniglot> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let data = Self::load_dataset(p)?;
        Self::from_dataset(data, p, seed)
    }

    /// Episodes over an already loaded dataset.
    pub fn from_dataset(
        data: Arc<LabelledDataset>,
        p: &OmniglotParams,
        seed: Seed,
    ) -> Result<Omniglot> {
        let groups: Vec<&str> = data.classes().iter().map(|c| c.group.as_str()).collect();
        let split_seed = p
            .split_seed
            .map(Seed)
            .unwrap_or_else(|| seed.derive("omniglot-split"));
        let splits = ClassSplits::by_lists_or_seed(
            p.split,
            &groups,
            [&p.train_classes, &p.validation_classes, &p.test_classes],
            p.train_fraction,
            p.validation_fraction,
            split_seed,
        )?;
        Ok(Omniglot {
            sampler: FewShotClassification::new(data, splits, p.ways, p.shots, p.queries)?,
            jitter: Jitter {
                max_shift: p.max_shift,
                max_angle: p.max_angle,
            },
        })
    }

    /// The decoded images.
    pub fn dataset(&self) -> &Arc<LabelledDataset> {
        self.sampler.data()
    }
    /// The episode sampler (and its splits).
    pub fn sampler(&self) -> &FewShotClassification {
        &self.sampler
    }
    /// The number of distinct characters.
    pub fn num_characters(&self) -> usize {
        self.dataset().groups().len()
    }
}

impl TaskDistribution for Omniglot {
    fn input_shape(&self) -> Vec<usize> {
        self.sampler.input_shape()
    }
    fn kind(&self) -> TaskKind {
        self.sampler.kind()
    }
    fn sample(&self, split: Split, rng: &mut Rng) -> autodidact_core::Result<Task> {
        let mut task = self.sampler.sample(split, rng)?;
        if split == Split::Train && !self.jitter.is_identity() {
            // Images are `[1, side, side]`.
            let side = self.dataset().input_shape().last().copied().unwrap_or(0);
            for x in [&mut task.support_x, &mut task.query_x] {
                if x.as_slice_mut().is_none() {
                    // The sampler's tensors are contiguous; a copy keeps this true if that changes.
                    *x = x.as_standard_layout().into_owned();
                }
                if let Some(pixels) = x.as_slice_mut() {
                    self.jitter.apply(pixels, side, rng);
                }
            }
        }
        Ok(task)
    }
}

fn build_omniglot(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = OmniglotParams::from_config(config)?;
    Ok(EnvInstance::Tasks(Box::new(Omniglot::load(&p, seed)?)))
}

autodidact_core::register_env! {
    name: "omniglot",
    kind: EnvKind::FewShotClassification,
    summary: "Omniglot N-way K-shot episodes from the published folders or zips (28x28, optional rotations and training jitter)",
    params: OmniglotParams::docs,
    default_config: OmniglotParams::default_config,
    build: build_omniglot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_of_another_size_are_counted_with_an_example() {
        let mut sizes = BTreeMap::new();
        sizes.insert((105, 105), (10, "a/b/1.png".to_string()));
        assert_eq!(odd_sizes(&sizes), None);
        sizes.insert((64, 80), (2, "a/c/3.png".to_string()));
        sizes.insert((200, 200), (1, "a/d/9.png".to_string()));
        let note = odd_sizes(&sizes).unwrap_or_default();
        assert!(note.starts_with("3 of 13 images are not 105x105"), "{note}");
        assert!(note.contains("a/c/3.png (64x80)"), "{note}");
    }
}
