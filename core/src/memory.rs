//! What a configuration will need, checked against what the machine has, before any work
//! starts: a value that passes its bounds must still not exhaust memory and abort the process.

use crate::config::invalid;
use crate::error::Result;

/// Bytes of memory available to a new allocation now (Linux: `MemAvailable` in
/// `/proc/meminfo`), or `None` where it cannot be read.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes in words a person reads ("1.5 GiB").
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = bytes;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    format!("{x:.1} {}", UNITS[unit])
}

/// Refuses a configuration whose estimated need (`bytes`, for `what`) exceeds `available`;
/// the error names `key`, the estimate and what is available.
pub fn check_fits_in(key: &str, what: &str, bytes: f64, available: Option<u64>) -> Result<()> {
    match available {
        Some(avail) if bytes > avail as f64 => Err(invalid(
            key,
            format!(
                "{what} would need about {}, and this machine has {} available; make it smaller",
                human(bytes),
                human(avail as f64)
            ),
        )),
        _ => Ok(()),
    }
}

/// [`check_fits_in`] against the memory available now.
pub fn check_fits(key: &str, what: &str, bytes: f64) -> Result<()> {
    check_fits_in(key, what, bytes, available_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:  24000000 kB\nMemFree: 1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_meminfo(text), Some(2048 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn refuses_what_does_not_fit_naming_the_key() {
        let err = check_fits_in(
            "hidden",
            "the network",
            3.0 * 1024.0 * 1024.0 * 1024.0,
            Some(1 << 30),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`hidden`") && err.contains("3.0 GiB") && err.contains("1.0 GiB"),
            "{err}"
        );
        assert!(check_fits_in("hidden", "the network", 1.0, Some(1 << 30)).is_ok());
        assert!(check_fits_in("hidden", "the network", 1e30, None).is_ok());
    }
}
