//! Sentence embeddings of a data set cached on disk, keyed by SHA-256 hashes of the model's
//! files and of the texts, so a second run with the same model and data starts at once.
//!
//! One file per key, `<cache_dir>/<key hex>.emb`:
//! `AUTODIDACT-EMBEDDINGS 1\n`, the 32-byte key, rows and width (`u64` little-endian), the
//! `f32` values (little-endian, row-major), then the SHA-256 of everything before it. A file
//! that is short, of another key or size, or whose checksum does not match is reported and
//! recomputed. Files are written to a temporary name in the same folder and renamed into
//! place, so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{EnvsError, Result};

const MAGIC: &[u8] = b"AUTODIDACT-EMBEDDINGS 1\n";

/// A cache key: SHA-256 over a version tag, the model files and the texts.
pub type Key = [u8; 32];

/// SHA-256 of a file's contents.
pub fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = std::fs::File::open(path).map_err(|e| EnvsError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(|e| EnvsError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The hexadecimal spelling of a hash.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key of `texts` embedded by the model whose files hash to `model` (each text
/// length-prefixed, so no two lists of texts share a key).
pub fn key(model: &[u8; 32], texts: &[&str]) -> Key {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(model);
    h.update((texts.len() as u64).to_le_bytes());
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().into()
}

/// A folder of cached embeddings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingCache {
    dir: PathBuf,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The embeddings, `rows × dim` row-major.
    Hit(Vec<f32>),
    /// No file for the key.
    Miss,
    /// A file that cannot be trusted, and why (recompute and overwrite it).
    Corrupt(String),
}

impl EmbeddingCache {
    /// A cache in `dir` (created on the first store).
    pub fn new(dir: impl Into<PathBuf>) -> EmbeddingCache {
        EmbeddingCache { dir: dir.into() }
    }

    /// The file of a key.
    pub fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.emb", hex(key)))
    }

    /// Reads the embeddings of `key`, which must be `rows × dim`.
    pub fn load(&self, key: &Key, rows: usize, dim: usize) -> Lookup {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(format!("{}: {e}", path.display())),
        };
        match decode(&bytes, key, rows, dim) {
            Ok(v) => Lookup::Hit(v),
            Err(why) => Lookup::Corrupt(format!("{}: {why}", path.display())),
        }
    }

    /// Writes the embeddings of `key` (`data.len()` = rows × `dim`) atomically.
    pub fn store(&self, key: &Key, dim: usize, data: &[f32]) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|e| EnvsError::io(&self.dir, e))?;
        let rows = data.len().checked_div(dim).unwrap_or(0);
        let mut bytes = Vec::with_capacity(MAGIC.len() + 48 + 4 * data.len() + 32);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&(rows as u64).to_le_bytes());
        bytes.extend_from_slice(&(dim as u64).to_le_bytes());
        for x in data {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let sum: [u8; 32] = Sha256::digest(&bytes).into();
        bytes.extend_from_slice(&sum);
        let path = self.path(key);
        let tmp = self
            .dir
            .join(format!(".{}.{}.tmp", hex(key), std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            EnvsError::io(&path, e)
        })?;
        Ok(path)
    }
}

fn decode(
    bytes: &[u8],
    key: &Key,
    rows: usize,
    dim: usize,
) -> std::result::Result<Vec<f32>, String> {
    let head = MAGIC.len() + 32 + 16;
    let want_len = head + 4 * rows * dim + 32;
    if !bytes.starts_with(MAGIC) {
        return Err("not an embeddings cache file (bad header)".into());
    }
    if bytes.len() != want_len {
        return Err(format!(
            "{} bytes, expected {want_len} for {rows} x {dim} embeddings (truncated or of another size)",
            bytes.len()
        ));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    let actual: [u8; 32] = Sha256::digest(body).into();
    if actual[..] != sum[..] {
        return Err("checksum mismatch (the file is damaged)".into());
    }
    if &body[MAGIC.len()..MAGIC.len() + 32] != key {
        return Err("holds the embeddings of another key".into());
    }
    let num = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let (r, d) = (num(MAGIC.len() + 32), num(MAGIC.len() + 40));
    if r != rows as u64 || d != dim as u64 {
        return Err(format!(
            "holds {r} x {d} embeddings, expected {rows} x {dim}"
        ));
    }
    Ok(body[head..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("autodidact-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn roundtrip_and_keys() {
        let dir = tmpdir("roundtrip");
        let cache = EmbeddingCache::new(&dir);
        let model = [7u8; 32];
        let k = key(&model, &["a", "bc"]);
        assert_ne!(
            k,
            key(&model, &["ab", "c"]),
            "length prefixes separate texts"
        );
        assert_ne!(k, key(&[8u8; 32], &["a", "bc"]), "the model is in the key");
        assert_eq!(cache.load(&k, 2, 3), Lookup::Miss);
        let data = [1.0, -2.5, 3.25, 0.0, f32::MIN_POSITIVE, 1e30];
        let path = cache.store(&k, 3, &data).unwrap();
        assert!(path.ends_with(format!("{}.emb", hex(&k))));
        assert_eq!(cache.load(&k, 2, 3), Lookup::Hit(data.to_vec()));
        // Asked for another size: refused, not misread.
        assert!(matches!(cache.load(&k, 3, 2), Lookup::Corrupt(_)));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_files_are_detected() {
        let dir = tmpdir("corrupt");
        let cache = EmbeddingCache::new(&dir);
        let k = key(&[1u8; 32], &["x"]);
        let data = [0.5f32; 4];
        let path = cache.store(&k, 4, &data).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let mid = good.len() / 2;
        flipped[mid] ^= 0x10;
        for (bytes, why) in [
            (flipped, "checksum"),
            (good[..good.len() - 5].to_vec(), "bytes, expected"),
            (b"garbage".to_vec(), "bad header"),
        ] {
            std::fs::write(&path, bytes).unwrap();
            match cache.load(&k, 1, 4) {
                Lookup::Corrupt(m) => assert!(m.contains(why), "{m}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // Overwriting repairs it.
        cache.store(&k, 4, &data).unwrap();
        assert_eq!(cache.load(&k, 1, 4), Lookup::Hit(data.to_vec()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
