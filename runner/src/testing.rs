//! `test-linear` (feature `test-algorithms`): a tiny, deterministic, checkpointable algorithm
//! with failure injection, for the runner's own tests. It fits `y ≈ w · [1, x, sin x, cos x]`
//! by SGD on few-shot tasks drawn with a generator that lives in its state (so checkpoints
//! must carry generator state to resume exactly), and can be told to log a NaN, fail, panic
//! or sleep at a given step.

use autodidact_core::{
    Algorithm, Better, Config, CoreError, EnvInstance, EnvKind, EnvSpec, Hyperparams, Metrics,
    Result, Rng, Seed, Split, Targets, Task, TaskDistribution,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Hyperparameters of `test-linear`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
pub struct TestLinearParams {
    /// Steps.
    #[param(min = 1)]
    pub iterations: u64,
    /// SGD step size.
    #[param(min = 0, max = 10)]
    pub lr: f64,
    /// Log every this many steps.
    #[param(min = 1)]
    pub log_every: u64,
    /// Support points per SGD step (drawn with replacement).
    #[param(min = 1)]
    pub batch: usize,
    /// Sleep this long in each step (to test signals).
    pub delay_ms: u64,
    /// Log a NaN loss at this step (0: never).
    pub nan_at: u64,
    /// Return an error at this step (0: never).
    pub fail_at: u64,
    /// Panic at this step (0: never).
    pub panic_at: u64,
    /// Make the weights NaN at this step (0: never), without logging it: only
    /// `Algorithm::is_finite` can tell.
    pub diverge_at: u64,
    /// Milliseconds to sleep in each `evaluate` (for signals during the final evaluation).
    pub eval_delay_ms: u64,
    /// Test tasks of the evaluation.
    #[param(min = 1)]
    pub eval_tasks: u64,
    /// From this step on (0: never), halve the weights instead of learning, so later
    /// evaluations are worse than earlier ones (for `--keep-best`).
    pub forget_after: u64,
}

impl Default for TestLinearParams {
    fn default() -> Self {
        TestLinearParams {
            iterations: 100,
            lr: 0.02,
            log_every: 1,
            batch: 4,
            delay_ms: 0,
            nan_at: 0,
            fail_at: 0,
            panic_at: 0,
            diverge_at: 0,
            eval_delay_ms: 0,
            eval_tasks: 8,
            forget_after: 0,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    step: u64,
    w: Vec<f64>,
    rng: Rng,
}

struct TestLinear {
    hp: TestLinearParams,
    tasks: Box<dyn TaskDistribution>,
    seed: Seed,
    state: State,
}

fn features(x: f64) -> [f64; 4] {
    [1.0, x, x.sin(), x.cos()]
}

fn points(task: &Task, query: bool) -> Result<Vec<(f64, f64)>> {
    let (x, y) = if query {
        (&task.query_x, &task.query_y)
    } else {
        (&task.support_x, &task.support_y)
    };
    let n = x.shape().first().copied().unwrap_or(0);
    let width = x.len().checked_div(n).unwrap_or(0);
    let ys: Vec<f64> = match y {
        Targets::Values(v) => v.iter().map(|&t| f64::from(t)).collect(),
        Targets::Labels(l) => l.iter().map(|&t| t as f64).collect(),
    };
    if ys.len() < n || width == 0 {
        return Err(CoreError::Env(
            "test-linear needs one target per example".into(),
        ));
    }
    let xs = x
        .as_slice()
        .map(<[f32]>::to_vec)
        .unwrap_or_else(|| x.iter().copied().collect());
    Ok((0..n).map(|i| (f64::from(xs[i * width]), ys[i])).collect())
}

fn mse(w: &[f64], pts: &[(f64, f64)]) -> f64 {
    let total: f64 = pts
        .iter()
        .map(|&(x, y)| {
            let p: f64 = features(x).iter().zip(w).map(|(f, w)| f * w).sum();
            (p - y).powi(2)
        })
        .sum();
    total / pts.len().max(1) as f64
}

impl Algorithm for TestLinear {
    fn total_steps(&self) -> u64 {
        self.hp.iterations
    }

    fn steps_done(&self) -> u64 {
        self.state.step
    }

    fn train_step(&mut self) -> Result<Metrics> {
        let step = self.state.step + 1;
        if self.hp.delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(self.hp.delay_ms));
        }
        if step == self.hp.fail_at {
            return Err(CoreError::Numerical("injected failure".into()));
        }
        if step == self.hp.panic_at {
            panic!("injected panic");
        }
        let task = self.tasks.sample(Split::Train, &mut self.state.rng)?;
        let support = points(&task, false)?;
        let mut grad = [0.0; 4];
        for _ in 0..self.hp.batch {
            let (x, y) = support[self.state.rng.random_range(0..support.len())];
            let f = features(x);
            let p: f64 = f.iter().zip(&self.state.w).map(|(f, w)| f * w).sum();
            for (g, fi) in grad.iter_mut().zip(f) {
                *g += 2.0 * (p - y) * fi / self.hp.batch as f64;
            }
        }
        let forgetting = self.hp.forget_after > 0 && step >= self.hp.forget_after;
        for (w, g) in self.state.w.iter_mut().zip(grad) {
            if forgetting {
                *w *= 0.5;
            } else {
                *w -= self.hp.lr * g;
            }
        }
        if step == self.hp.diverge_at {
            self.state.w = vec![f64::NAN; 4];
        }
        self.state.step = step;
        let mut m = Metrics::new();
        if step.is_multiple_of(self.hp.log_every) || step == self.hp.iterations {
            let loss = if step == self.hp.nan_at {
                f64::NAN
            } else {
                mse(&self.state.w, &points(&task, true)?)
            };
            m.insert("loss".into(), loss);
            m.insert(
                "w_norm".into(),
                self.state.w.iter().map(|w| w * w).sum::<f64>().sqrt(),
            );
        }
        Ok(m)
    }

    fn evaluate(&mut self, env: Option<&EnvInstance>) -> Result<Metrics> {
        let dist: &dyn TaskDistribution = match env {
            None => self.tasks.as_ref(),
            Some(EnvInstance::Tasks(t)) => t.as_ref(),
            Some(other) => {
                return Err(CoreError::Env(format!(
                    "test-linear evaluates on task distributions, not on {}",
                    other.kind().describe()
                )))
            }
        };
        if self.hp.eval_delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(self.hp.eval_delay_ms));
        }
        let mut total = 0.0;
        for i in 0..self.hp.eval_tasks {
            let task = dist.task(Split::Test, self.seed, i)?;
            total += mse(&self.state.w, &points(&task, true)?);
        }
        let mut m = Metrics::new();
        m.insert("test_mse".into(), total / self.hp.eval_tasks as f64);
        Ok(m)
    }

    fn is_finite(&self) -> bool {
        self.state.w.iter().all(|w| w.is_finite())
    }

    fn selection_metric(&self) -> Option<(String, Better)> {
        Some(("test_mse".into(), Better::Lower))
    }

    fn save(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.state).map_err(|e| CoreError::Serde(e.to_string()))
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        self.state = serde_json::from_slice(bytes)
            .map_err(|e| CoreError::Checkpoint(format!("not a test-linear state: {e}")))?;
        Ok(())
    }
}

fn build(config: &Config, env: &EnvSpec, seed: Seed) -> Result<Box<dyn Algorithm>> {
    let hp = TestLinearParams::from_config(config)?.into_inner();
    let EnvInstance::Tasks(tasks) = env.instantiate(seed)? else {
        return Err(CoreError::Env(
            "test-linear needs a task distribution".into(),
        ));
    };
    Ok(Box::new(TestLinear {
        hp,
        tasks,
        seed,
        state: State {
            step: 0,
            w: vec![0.0; 4],
            rng: seed.rng("test-linear"),
        },
    }))
}

autodidact_core::register_algorithm! {
    name: "test-linear",
    family: "runner test fixture",
    summary: "deterministic linear regression by SGD with failure injection (feature test-algorithms)",
    accepts: &[EnvKind::FewShotRegression, EnvKind::FewShotClassification],
    params: TestLinearParams::docs,
    default_config: TestLinearParams::default_config,
    build: build,
}
