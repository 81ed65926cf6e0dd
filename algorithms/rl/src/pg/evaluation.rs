//! Evaluation of a policy-gradient agent: deterministic episodes (the most likely action, or
//! the Gaussian's mean), and on an environment with a tabular model the exact `value_gap`
//! `V*(s₀) − V^π(s₀)` of that deterministic policy.

use autodidact_core::{Action, Environment, Metrics};

use super::agent::{greedy_action, PgAgent};
use crate::errors::{Result, RlError};
use crate::evaluate::{policy_start_value, run_episodes_on};

impl PgAgent {
    /// Evaluates on `env` (same spaces), or on a copy of the training environment.
    pub fn evaluate_on(&mut self, env: Option<&dyn Environment>) -> Result<Metrics> {
        let env = match env {
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
        let (net, params, squash) = (&self.net, &self.params, self.p.squash);
        let stats = run_episodes_on(
            self.pool.as_deref(),
            env.as_ref(),
            self.p.eval_episodes,
            self.eval_seed,
            self.p.eval_max_steps,
            &|obs: &[f32], _| greedy_action(net, params, squash, obs),
        )?;
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
