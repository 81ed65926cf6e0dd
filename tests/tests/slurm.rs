//! A sweep on a real Slurm cluster: the test starts munged, slurmctld and slurmd in a
//! temporary folder (one node, two CPUs, localhost, private ports), submits the array job of
//! `docs/examples/sweep.sbatch` (the very file `docs/distributed.md` shows) with a small
//! sweep, cancels one share in the middle of a run with SIGTERM and requeues it, and checks
//! what the documentation promises: every run finished exactly once, and `autodidact compare`
//! over the shared folder prints, byte for byte, what it prints for the same sweep run on one
//! machine with `autodidact sweep`.
//!
//! Needs Debian's `slurm-wlm` and `munge`, and root (slurmd runs the jobs). Without them the
//! test is skipped with the reason printed, unless `AUTODIDACT_REQUIRE_CLUSTER` is set (CI
//! sets it and installs the packages: there it fails instead). It runs the `autodidact`
//! binary next to this test's executable (`cargo test --workspace` builds it; alone:
//! `cargo build -p autodidact-runner` first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// The sweep every share runs: 2 grid points × 3 seeds of a short MAML run, long enough (a
/// few seconds each) to be caught in the middle.
const SWEEP: &str = "maml --env sinusoid --seeds 0..3 --grid inner_lr=0.01,0.02 \
     --set meta_iterations=20000 --set meta_batch=4 --set eval_tasks=20 --set val_every=50 \
     --set val_tasks=8 --set log_every=10 --set test_inner_steps=3 --checkpoint-every 10";
/// Shares (array tasks).
const SHARES: usize = 4;
/// The share cancelled in the middle of its first run and requeued.
const CANCELLED: usize = 0;

/// Skips (after printing why), or fails when `AUTODIDACT_REQUIRE_CLUSTER` is set.
fn unavailable(why: &str) {
    if std::env::var_os("AUTODIDACT_REQUIRE_CLUSTER").is_some() {
        panic!("{why} (AUTODIDACT_REQUIRE_CLUSTER is set, so this fails instead of skipping)");
    }
    eprintln!("SKIPPED: {why}");
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// munged, slurmctld and slurmd in a temporary folder; every job cancelled and every daemon
/// stopped when dropped (also when the test fails).
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        for sub in ["munge", "state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
        };
        // munged with its own key, socket, pid and log files.
        let key = dir.join("munge/key");
        let mut bytes = vec![0u8; 1024];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").unwrap(),
            &mut bytes,
        )
        .unwrap();
        std::fs::write(&key, bytes).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o400))
            .unwrap();
        let m = |f: &str| dir.join("munge").join(f);
        cluster.must(
            Command::new("munged")
                .arg("--force")
                .arg(format!("--key-file={}", key.display()))
                .arg(format!("--socket={}", m("socket").display()))
                .arg(format!("--pid-file={}", m("pid").display()))
                .arg(format!("--log-file={}", m("log").display()))
                .arg(format!("--seed-file={}", m("seed").display())),
        );
        let host =
            String::from_utf8_lossy(&Command::new("hostname").arg("-s").output().unwrap().stdout)
                .trim()
                .to_string();
        let d = dir.display();
        std::fs::write(
            &cluster.conf,
            format!(
                "ClusterName=autodidact-test\n\
                 SlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={ctld}\n\
                 SlurmdPort={slurmd}\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 CredType=cred/munge\n\
                 AuthInfo=socket={d}/munge/socket\n\
                 StateSaveLocation={d}/state\n\
                 SlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\n\
                 SlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/log/slurmctld.log\n\
                 SlurmdLogFile={d}/log/slurmd.log\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 MpiDefault=none\n\
                 ReturnToService=2\n\
                 SchedulerType=sched/builtin\n\
                 AccountingStorageType=accounting_storage/none\n\
                 JobAcctGatherType=jobacct_gather/none\n\
                 JobCompType=jobcomp/none\n\
                 MinJobAge=600\n\
                 KillWait=30\n\
                 InactiveLimit=0\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n\
                 PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
                ctld = free_port(),
                slurmd = free_port(),
            ),
        )
        .unwrap();
        cluster.must(cluster.cmd("slurmctld").arg("-i"));
        cluster.must(&mut cluster.cmd("slurmd"));
        cluster.wait_for("the node to be idle", 60, |c| {
            let o = c.cmd("sinfo").args(["-h", "-o", "%t"]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim() == "idle"
        });
        cluster
    }

    /// A Slurm command on this cluster.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs `cmd`; fails the test with its output and the daemons' logs when it fails.
    fn must(&self, cmd: &mut Command) -> String {
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{cmd:?} failed: {}\n{}",
            text(&o),
            self.logs()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn logs(&self) -> String {
        ["log/slurmctld.log", "log/slurmd.log", "munge/log"]
            .iter()
            .map(|f| {
                let t = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                format!(
                    "--- {f}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn wait_for(&self, what: &str, secs: u64, mut done: impl FnMut(&Cluster) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The state of array task `task` of job `job` (`PENDING`, `RUNNING`, `COMPLETED`, …).
    fn state(&self, job: &str, task: usize) -> String {
        let out = self.must(
            self.cmd("scontrol")
                .args(["show", "job", "-o"])
                .arg(format!("{job}_{task}")),
        );
        out.split_whitespace()
            .find_map(|f| f.strip_prefix("JobState="))
            .unwrap_or_default()
            .to_string()
    }

    /// Whether any task of `job` is still pending or running.
    fn active(&self, job: &str) -> bool {
        let o = self
            .cmd("squeue")
            .args(["-h", "-j", job, "-o", "%i %T"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&o.stdout).trim().is_empty()
    }

    fn pid(&self, file: &str) -> Option<i32> {
        std::fs::read_to_string(self.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .cmd("scancel")
            .args(["--full", "--signal=KILL", "--user=root"])
            .output();
        let _ = self.cmd("scancel").arg("--user=root").output();
        let _ = self.cmd("scontrol").arg("shutdown").output();
        let pids: Vec<i32> = ["slurmctld.pid", "slurmd.pid", "munge/pid"]
            .iter()
            .filter_map(|f| self.pid(f))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(15);
        while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            if let Some(m) = self.pid("munge/pid") {
                if !self.pid("slurmctld.pid").is_some_and(alive)
                    && !self.pid("slurmd.pid").is_some_and(alive)
                {
                    let _ = Command::new("kill").arg(m.to_string()).output();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for p in pids.into_iter().filter(|&p| alive(p)) {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).output();
        }
    }
}

/// The `autodidact` binary cargo built beside this test.
fn autodidact_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("autodidact"))
        .unwrap();
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p autodidact-runner)",
        bin.display()
    );
    bin
}

/// `autodidact compare .` in `dir` (its runs then print the same relative folders), as a
/// table and as JSON.
fn compare(bin: &Path, dir: &Path) -> (String, String) {
    let run = |json: bool| {
        let mut cmd = Command::new(bin);
        cmd.args(["compare", "."]).current_dir(dir);
        if json {
            cmd.arg("--json");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "compare failed: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    (run(false), run(true))
}

/// Every run folder directly under `dir`, by name.
fn run_folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_sweep_on_slurm_merges_into_what_one_machine_computes() {
    let missing: Vec<&str> = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    if !missing.is_empty() {
        return unavailable(&format!(
            "{} not installed (apt-get install slurm-wlm munge)",
            missing.join(", ")
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return unavailable("a single-host Slurm cluster needs root (slurmd starts the jobs)");
    }
    let bin = autodidact_binary();
    let work = fresh("slurm");
    let cluster = Cluster::start(&work.join("cluster"));
    let sweep_dir = work.join("sweep");
    let submit_dir = work.join("submit");
    std::fs::create_dir_all(submit_dir.join("logs")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/sweep.sbatch");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The documented script, the sweep and its size given through the environment; one CPU
    // and no memory request per share on this two-CPU node.
    let job = cluster
        .must(
            cluster
                .cmd("sbatch")
                .arg("--parsable")
                .arg(format!("--array=0-{}", SHARES - 1))
                .args(["--cpus-per-task=1", "--mem=0", "--time=30"])
                .arg(&script)
                .current_dir(&submit_dir)
                .env("PATH", path)
                .env("SWEEP", SWEEP)
                .env("SHARES", SHARES.to_string())
                .env("SWEEP_DIR", &sweep_dir),
        )
        .trim()
        .to_string();
    let job = job.split(';').next().unwrap().to_string();

    // Share 0 runs jobs 0 and 4 of the sweep (inner_lr=0.01 seed 0, inner_lr=0.02 seed 1):
    // SIGTERM once its first run has checkpointed and before it finished.
    let first = sweep_dir.join("maml-sinusoid-inner_lr=0.01-seed0");
    cluster.wait_for("share 0's first checkpoint", 120, |_| {
        first.join("checkpoint.ckpt").exists()
    });
    assert!(
        !first.join("summary.json").exists(),
        "share {CANCELLED}'s first run ended before it could be cancelled: make it longer"
    );
    // Slurm 22.05 delivers the signal to the batch shell (here `autodidact` itself) but may
    // still answer "Job can not be altered now, try again later" for an array task: what
    // counts is that the share stops, checked next, not scancel's exit status.
    std::thread::sleep(Duration::from_secs(1));
    let _ = cluster
        .cmd("scancel")
        .args(["--signal=TERM", "--batch"])
        .arg(format!("{job}_{CANCELLED}"))
        .output();
    cluster.wait_for("the cancelled share to stop", 60, |c| {
        !matches!(
            c.state(&job, CANCELLED).as_str(),
            "RUNNING" | "PENDING" | "COMPLETING"
        )
    });
    let stopped = cluster.state(&job, CANCELLED);
    assert_ne!(stopped, "COMPLETED", "SIGTERM did not stop the share");
    assert!(
        !first.join("summary.json").exists(),
        "the interrupted run must not have finished"
    );
    cluster.must(
        cluster
            .cmd("scontrol")
            .arg("requeue")
            .arg(format!("{job}_{CANCELLED}")),
    );
    cluster.wait_for("every share to finish", 600, |c| !c.active(&job));
    for task in 0..SHARES {
        assert_eq!(
            cluster.state(&job, task),
            "COMPLETED",
            "share {task}\n{}",
            std::fs::read_to_string(
                submit_dir.join(format!("logs/autodidact-sweep-{job}_{task}.out"))
            )
            .unwrap_or_default()
        );
    }
    let resumed = std::fs::read_to_string(
        submit_dir.join(format!("logs/autodidact-sweep-{job}_{CANCELLED}.out")),
    )
    .unwrap_or_default();
    drop(cluster);

    // The same sweep on one machine.
    let single = work.join("single");
    let mut args = vec!["sweep"];
    args.extend(SWEEP.split_whitespace());
    args.extend(["--jobs", "2", "--out", s(&single)]);
    let o = Command::new(&bin).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));

    // Every run once: the same six folders, each finished, its metrics logged step by step
    // once (a step run twice would log twice) and equal to the one-machine run's.
    let names = run_folders(&sweep_dir);
    assert_eq!(names, run_folders(&single));
    assert_eq!(names.len(), 6, "{names:?}");
    for name in &names {
        assert_same_run(&sweep_dir.join(name), &single.join(name));
    }
    assert!(
        resumed.is_empty() || !resumed.contains("FAILED"),
        "the requeued share failed: {resumed}"
    );
    // compare prints the same, byte for byte.
    let (table, json) = compare(&bin, &sweep_dir);
    let (table1, json1) = compare(&bin, &single);
    assert_eq!(table, table1);
    assert_eq!(json, json1);
    assert!(json.contains("inner_lr"), "{json}");
}
