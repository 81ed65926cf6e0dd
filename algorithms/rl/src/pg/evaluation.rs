//! Evaluation of a policy-gradient agent: deterministic episodes (the most likely action, or
//! the Gaussian's mean), and on an environment with a tabular model the exact `value_gap`
//! `V*(s₀) − V^π(s₀)` of that deterministic policy.

use autodidact_core::{Action, Environment, Metrics};

use super::agent::PgAgent;
use crate::errors::{Result, RlError};
use crate::evaluate::{goal_reward, policy_start_value, EpisodeStats};

impl PgAgent {
    /// Evaluates on `env` (same spaces), or on a copy of the training environment.
    pub fn evaluate_on(&mut self, env: Option<&dyn Environment>) -> Result<Metrics> {
        let mut env = match env {
            Some(e) => e.clone_box(),
            None => self.eval_env.clone_box(),
        };
        if env.action_space() != self.eval_env.action_space()
            || env.observation_space().flat_dim() != self.net.obs_dim
        {
            return Err(RlError::Incompatible {
                algorithm: self.method.name().into(),
                env: "the evaluation environment".into(),
                reason: format!(
                    "its spaces ({:?}, {:?}) differ from the training environment's",
                    env.observation_space(),
                    env.action_space()
                ),
            });
        }
        let goal = env.tabular().and_then(goal_reward);
        let mut stats = EpisodeStats::default();
        for k in 0..self.p.eval_episodes {
            let (mut obs, _) = env.reset(Some(self.eval_seed.index(k).0));
            let (mut ret, mut len) = (0.0, 0u64);
            let success = loop {
                let a = self.deterministic_action(&obs)?;
                let r = env.step(&a)?;
                ret += r.reward;
                len += 1;
                let info = r
                    .info
                    .get("is_success")
                    .or_else(|| r.info.get("success"))
                    .map(|&v| v > 0.5);
                if r.terminated || r.truncated || len >= self.p.eval_max_steps {
                    break match (info, goal) {
                        (Some(s), _) => s,
                        (None, Some(g)) => r.terminated && r.reward >= g - 1e-9,
                        (None, None) => !r.terminated,
                    };
                }
                obs = r.obs;
            };
            stats.returns.push(ret);
            stats.lengths.push(len);
            stats.successes.push(success);
        }
        let mut m = stats.metrics();
        if let Some(model) = env.tabular() {
            // The deterministic policy at every state whose observation the model gives.
            let mut policy = Vec::with_capacity(model.num_states());
            for s in 0..model.num_states() {
                match model.observation_of(s) {
                    Some(o) => match self.deterministic_action(&o)? {
                        Action::Discrete(a) => policy.push(a),
                        Action::Continuous(_) => break,
                    },
                    None => break,
                }
            }
            if policy.len() == model.num_states() {
                let v = policy_start_value(model, &policy, self.p.gamma)?;
                let best = self.optimal.get(model, self.p.gamma)?.start_value;
                m.insert("value_gap".into(), best - v);
                m.insert("optimal_start_value".into(), best);
                m.insert("policy_start_value".into(), v);
            }
        }
        Ok(m)
    }
}
