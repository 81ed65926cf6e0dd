//! MAML-RL (Finn et al. 2017, §5.3) with the DiCE estimator (Foerster et al. 2018): meta-learn
//! a policy's initial weights θ so that one or a few policy-gradient steps on a new task's
//! episodes give a good policy for that task.
//!
//! One meta-iteration takes `meta_batch` environments of the training split; for each, it
//! samples `episodes_per_task` episodes with π_θ, takes an inner step of gradient ascent
//! `θ' = θ + α ∇_θ L(θ)` on their DiCE objective ([`dice`]) — recorded on the tape, so θ' is
//! a differentiable function of θ — repeats for `inner_steps` steps (each on fresh episodes
//! of the adapted policy), samples episodes with π_θ', and differentiates their DiCE
//! objective with respect to θ through every inner step. Adam steps θ on the mean over tasks.
//!
//! Why DiCE: the meta-gradient `(I + α ∇²J(θ)) ∇J(θ')` needs an unbiased Hessian of the
//! expected return. Differentiating the REINFORCE surrogate `Σ log π · A` twice (what the
//! original implementation's autodiff did) misses `E[R ∇log π ∇log π^T]` (Rothfuss et al.
//! 2019); DiCE's MagicBox keeps every term, to any order. `estimator = "surrogate"` keeps the
//! original behaviour for comparison, `first_order = true` drops the Hessian altogether, and
//! `tests/maml_rl_exact.rs` shows all three against the exact meta-gradient of a tabular MDP.
//!
//! Why here, in the RL family's crate: MAML-RL is policy gradient in both loops, and shares
//! the policy-gradient family's networks, action distributions, activation and initialisation
//! ([`crate::pg`]); only the meta-learning loop and the estimator are its own.
//!
//! Options: `inner_steps` (0 trains one policy on all training tasks without adaptation: the
//! "pretrained" baseline), `inner_lr` or `learn_inner_lr` (Meta-SGD: one learned rate per
//! parameter), `first_order`, `estimator`, `baseline` (the linear feature baseline of Duan et
//! al. 2016, fitted per task and batch, or none), `outer_step` (Adam, or TRPO as Finn et al.
//! took it: [`trpo`]).
//!
//! Evaluation adapts on held-out tasks of the test split: `return_after_k` is the mean return
//! of the episodes sampled after `k` inner steps (`k = 0..=eval_inner_steps`), with its 95 %
//! interval over tasks, and `optimal_return` the mean optimum of the same tasks when the
//! environment knows it (exactly from the tabular model of `gridworld-goals`, analytically
//! for `navigation-2d`).

pub mod baseline;
pub mod dice;
pub mod hyperparams;
pub mod learner;
pub mod policy;
pub mod sampler;
pub mod trpo;

use autodidact_core::config::Checked;
use autodidact_core::{
    Algorithm, Better, CoreError, EnvInstance, EnvKind, EnvSpec, Metrics, Seed, Split,
};

pub use hyperparams::{BaselineKind, Estimator, MamlRlParams, OuterStep};
pub use learner::MamlRl;
pub use policy::Policy;

impl Algorithm for MamlRl {
    fn total_steps(&self) -> u64 {
        self.hp.meta_iterations
    }
    fn steps_done(&self) -> u64 {
        self.iteration
    }
    fn is_finite(&self) -> bool {
        self.params.all_finite()
    }
    fn train_step(&mut self) -> autodidact_core::Result<Metrics> {
        // On the pool, so the tasks run on its workers (and their products split when large).
        let pool = self.pool.clone();
        autodidact_core::parallel::install(pool.as_deref(), || self.meta_step())?;
        let done = self.iteration >= self.hp.meta_iterations;
        let mut m = Metrics::new();
        if self.iteration.is_multiple_of(self.hp.log_every) || done {
            m = self.log_metrics();
        }
        if self.hp.val_every > 0 && (self.iteration.is_multiple_of(self.hp.val_every) || done) {
            let v = self.evaluate_split(
                self.dist.as_ref(),
                Split::Validation,
                self.hp.val_tasks,
                "val_",
            )?;
            m.extend(v);
        }
        Ok(m)
    }
    fn evaluate(&mut self, env: Option<&EnvInstance>) -> autodidact_core::Result<Metrics> {
        let n = self.hp.eval_tasks;
        match env {
            None => Ok(self.evaluate_split(self.dist.as_ref(), Split::Test, n, "")?),
            Some(EnvInstance::MetaRl(d)) => {
                let t = d.template();
                if t.observation_space().flat_dim() != self.policy.obs_dim
                    || t.action_space() != self.dist.template().action_space()
                {
                    return Err(CoreError::Env(format!(
                        "maml-rl was trained on {} with other observation or action spaces \
                         than the evaluation environment's",
                        self.env_name
                    )));
                }
                Ok(self.evaluate_split(d.as_ref(), Split::Test, n, "")?)
            }
            Some(other) => Err(CoreError::WrongEnvKind {
                algorithm: "maml-rl".into(),
                expected: EnvKind::MetaRl.describe().into(),
                env: "the evaluation environment".into(),
                actual: other.kind().describe().into(),
            }),
        }
    }
    fn save(&self) -> autodidact_core::Result<Vec<u8>> {
        Ok(self.save_bytes()?)
    }
    fn load(&mut self, bytes: &[u8]) -> autodidact_core::Result<()> {
        Ok(self.load_bytes(bytes)?)
    }
    fn selection_metric(&self) -> Option<(String, Better)> {
        let k = self.hp.eval_inner_steps.min(1);
        Some((format!("return_after_{k}"), Better::Higher))
    }
    fn headline_metric(&self) -> &'static str {
        "return_after"
    }
}

fn build(
    hp: Checked<MamlRlParams>,
    spec: &EnvSpec,
    seed: Seed,
) -> autodidact_core::Result<Box<dyn autodidact_core::Algorithm>> {
    let dist = match spec.instantiate(seed.derive("env"))? {
        EnvInstance::MetaRl(d) => d,
        other => {
            return Err(CoreError::WrongEnvKind {
                algorithm: "maml-rl".into(),
                expected: EnvKind::MetaRl.describe().into(),
                env: spec.name().into(),
                actual: other.kind().describe().into(),
            })
        }
    };
    Ok(Box::new(MamlRl::new(hp, dist, spec.name(), seed)?))
}

autodidact_core::register_family! {
    family: "meta-reinforcement learning",
    accepts: &[EnvKind::MetaRl],
    params: MamlRlParams,
    algorithms: {
        "maml-rl" => (
            "MAML-RL: policy-gradient inner steps, DiCE meta-gradient (exact in expectation), linear feature baseline, Meta-SGD and first-order options (Finn et al. 2017; Foerster et al. 2018)",
            MamlRlParams::default,
            build
        ),
    }
}
