//! Evaluating a DQN agent: greedy episodes, and on an environment with an exact model, the
//! learned Q-table against the optimal one.

use autodidact_core::{argmax_slice, Action, Environment, Metrics, Observation, TabularModel};

use super::agent::Dqn;
use crate::dp::QTable;
use crate::errors::Result;
use crate::evaluate::{run_episodes_on, tabular_metrics, OptimalCache};

impl Dqn {
    /// The observation of state `s` of `model`: the model's own, else the one recorded in
    /// training; `None` when neither is known or it does not fit the network.
    fn state_observation(&self, model: &dyn TabularModel, s: usize) -> Option<Observation> {
        model
            .observation_of(s)
            .or_else(|| self.state_obs.get(s).cloned().flatten())
            .filter(|o| o.len() == self.net.obs_dim)
    }

    /// The learned Q-table of `model`'s states at every state whose observation is known,
    /// which states those are, and the greedy policy (action 0 where unknown).
    fn q_table_of(&self, model: &dyn TabularModel) -> Result<(QTable, Vec<bool>, Vec<usize>)> {
        let (ns, na) = (model.num_states(), self.net.n_actions);
        let mut q = QTable::filled(ns, na, 0.0);
        let mut known = vec![false; ns];
        let mut policy = vec![0; ns];
        // One observation at a time: a model's observations are built on demand.
        for s in 0..ns {
            let Some(o) = self.state_observation(model, s) else {
                continue;
            };
            let row = self.q_values(&o)?;
            for (a, &v) in row.iter().enumerate() {
                q.set(s, a, f64::from(v));
            }
            known[s] = true;
            policy[s] = argmax_slice(&row);
        }
        Ok((q, known, policy))
    }

    /// The learned Q-table of the training environment's states at every state whose
    /// observation is known, which states those are, and the greedy policy (action 0 where
    /// unknown); empty without a model.
    pub fn q_table(&self) -> Result<(QTable, Vec<bool>, Vec<usize>)> {
        match self.driver.env().tabular() {
            Some(model) => self.q_table_of(model),
            None => Ok((
                QTable::filled(0, self.net.n_actions, 0.0),
                Vec::new(),
                Vec::new(),
            )),
        }
    }

    /// `q_error`, `value_gap` and related exact metrics on the training environment's model
    /// (`None` without one).
    pub fn tabular_metrics(&mut self) -> Result<Option<Metrics>> {
        let env = self.driver.env();
        let Some(model) = env.tabular() else {
            return Ok(None);
        };
        let (q, known, policy) = self.q_table_of(model)?;
        let optimal = self.optimal.get(model, self.p.gamma)?;
        Ok(Some(tabular_metrics(
            model,
            optimal,
            self.p.gamma,
            &q,
            &known,
            &policy,
        )?))
    }

    /// Greedy episodes on `env` (the agent's own evaluation copy when `None`), with the exact
    /// metrics when the environment has a model of the agent's actions.
    pub(crate) fn evaluate_on(&mut self, env: Option<&dyn Environment>) -> Result<Metrics> {
        let own = env.is_none();
        let env = match env {
            Some(e) => e.clone_box(),
            None => self.eval_env.clone_box(),
        };
        let na = self.net.n_actions;
        let (net, online) = (&self.net, &self.online);
        let act = |obs: &[f32], _s: Option<usize>| {
            Ok(Action::Discrete(
                net.q_values_one(online, obs)
                    .map_or(0, |q| argmax_slice(&q[..na.min(q.len())])),
            ))
        };
        let stats = run_episodes_on(
            self.shards.pool(),
            env.as_ref(),
            self.p.eval_episodes,
            self.eval_seed,
            self.p.eval_max_steps,
            &act,
        )?;
        let mut m = stats.metrics();
        if let Some(model) = env.tabular().filter(|m| m.num_actions() == na) {
            let (q, known, policy) = self.q_table_of(model)?;
            // Another environment's model counts only where the network can read it.
            if model.num_states() == self.n_states || known.contains(&true) {
                let mut fresh = OptimalCache::default();
                let cache = if own { &mut self.optimal } else { &mut fresh };
                let optimal = cache.get(model, self.p.gamma)?;
                m.extend(tabular_metrics(
                    model,
                    optimal,
                    self.p.gamma,
                    &q,
                    &known,
                    &policy,
                )?);
            }
        }
        Ok(m)
    }
}
