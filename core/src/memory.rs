//! What a configuration will need, checked against what the machine has, before any work
//! starts: a value that passes its bounds must still not exhaust memory and abort the process.

use crate::config::invalid;
use crate::error::Result;

/// Bytes of memory available to a new allocation now, or `None` where it cannot be read.
/// Linux: the least of `MemAvailable` (`/proc/meminfo`), the room left under the process's
/// address-space limit (`ulimit -v`: `/proc/self/limits` less `VmSize`) and the room left in
/// its cgroup (`memory.max` less `memory.current`: a container's or a Slurm job's limit).
pub fn available_bytes() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let machine = read("/proc/meminfo").as_deref().and_then(parse_meminfo);
    let address_space = match (
        read("/proc/self/limits")
            .as_deref()
            .and_then(parse_address_limit),
        read("/proc/self/status").as_deref().and_then(parse_vm_size),
    ) {
        (Some(limit), Some(used)) => Some(limit.saturating_sub(used)),
        _ => None,
    };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max").and_then(|t| t.trim().parse::<u64>().ok()),
        read("/sys/fs/cgroup/memory.current").and_then(|t| t.trim().parse::<u64>().ok()),
    ) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    [machine, address_space, cgroup].into_iter().flatten().min()
}

/// The soft "Max address space" of `/proc/self/limits`, `None` when unlimited.
fn parse_address_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `VmSize` of `/proc/self/status`, in bytes.
fn parse_vm_size(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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
    fn reads_the_address_space_limit_and_the_process_size() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         4096000000           unlimited            bytes\n";
        assert_eq!(parse_address_limit(limits), Some(4_096_000_000));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(parse_address_limit(unlimited), None);
        assert_eq!(
            parse_vm_size("Name: x\nVmSize:\t  1000 kB\n"),
            Some(1000 * 1024)
        );
        // This process: some number, never more than the machine's.
        let machine = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_meminfo(&t));
        if let (Some(a), Some(m)) = (available_bytes(), machine) {
            assert!(a <= m + (64 << 20));
        }
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
