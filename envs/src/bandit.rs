//! K-armed Bernoulli bandits, and a distribution of them (`p ~ U[0, 1]` per arm) for meta-RL.
//!
//! One state, observed as `[0.0]` (`Discrete(1)`); pulling arm `a` pays 1 with probability
//! `p[a]`, else 0. An episode is `horizon` pulls and ends truncated (there is no terminal
//! state). The exact model is one state with two outcomes per arm.

use autodidact_core::config::check_range;
use autodidact_core::{
    Action, Config, EnvDistribution, EnvInstance, EnvKind, Environment, Hyperparams, Info,
    Observation, Rng, Seed, Space, Split, StepResult, TabularModel, Transition,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{EnvsError, Result};

/// Parameters of `bandit` and `bandit-distribution`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = BanditParams::relations)]
pub struct BanditParams {
    /// Arms (K).
    #[param(min = 1, max = 1_000_000)]
    pub arms: usize,
    /// Pulls per episode.
    #[param(gt = 0)]
    pub horizon: usize,
    /// Success probabilities, one per arm (empty: drawn from U[0, 1] with the seed).
    pub probs: Vec<f64>,
}

impl Default for BanditParams {
    fn default() -> Self {
        BanditParams {
            arms: 10,
            horizon: 100,
            probs: Vec::new(),
        }
    }
}

impl BanditParams {
    /// Checks the relations between fields that bounds cannot state.
    fn relations(&self) -> autodidact_core::Result<()> {
        if !self.probs.is_empty() && self.probs.len() != self.arms {
            return Err(EnvsError::param(
                "probs",
                format!(
                    "{} probabilities given for {} arms",
                    self.probs.len(),
                    self.arms
                ),
            )
            .into());
        }
        for &p in &self.probs {
            check_range("probs", p, 0.0, 1.0)?;
        }
        Ok(())
    }
}

/// A K-armed Bernoulli bandit.
#[derive(Clone, Debug)]
pub struct BernoulliBandit {
    probs: Vec<f64>,
    table: Vec<[Transition; 2]>,
    horizon: usize,
    steps: usize,
    rng: Rng,
}

impl BernoulliBandit {
    /// A bandit with the given success probabilities and horizon (rewards drawn from `seed`).
    pub fn new(probs: Vec<f64>, horizon: usize, seed: Seed) -> Result<Self> {
        if probs.is_empty() || horizon == 0 {
            return Err(EnvsError::Invalid(format!(
                "a bandit needs at least one arm and a horizon >= 1 ({} arms, horizon {horizon})",
                probs.len()
            )));
        }
        if let Some((i, p)) = probs
            .iter()
            .enumerate()
            .find(|(_, p)| !(0.0..=1.0).contains(*p))
        {
            return Err(EnvsError::param(
                "probs",
                format!("arm {i}: {p} is not a probability"),
            ));
        }
        Ok(Self::unchecked(probs, horizon, seed))
    }

    fn unchecked(probs: Vec<f64>, horizon: usize, seed: Seed) -> Self {
        let table = probs
            .iter()
            .map(|&p| {
                [
                    Transition {
                        prob: p,
                        next: 0,
                        reward: 1.0,
                        done: false,
                    },
                    Transition {
                        prob: 1.0 - p,
                        next: 0,
                        reward: 0.0,
                        done: false,
                    },
                ]
            })
            .collect();
        BernoulliBandit {
            probs,
            table,
            horizon,
            steps: 0,
            rng: seed.rng("bandit"),
        }
    }

    /// A bandit with `arms` probabilities drawn from U[0, 1].
    pub fn random(arms: usize, horizon: usize, rng: &mut Rng, seed: Seed) -> Result<Self> {
        let probs = (0..arms).map(|_| rng.random::<f64>()).collect();
        Self::new(probs, horizon, seed)
    }

    /// From parameters and a seed.
    pub fn from_params(p: &BanditParams, seed: Seed) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        if p.probs.is_empty() {
            Self::random(p.arms, p.horizon, &mut seed.rng("bandit-arms"), seed)
        } else {
            Self::new(p.probs.clone(), p.horizon, seed)
        }
    }

    /// The success probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }
    /// The best arm.
    pub fn best_arm(&self) -> usize {
        let mut best = 0;
        for (i, &p) in self.probs.iter().enumerate() {
            if p > self.probs[best] {
                best = i;
            }
        }
        best
    }
    /// Expected regret of pulling arm `a` once.
    pub fn regret(&self, a: usize) -> f64 {
        self.probs[self.best_arm()] - self.probs.get(a).copied().unwrap_or(0.0)
    }
    /// Pulls in this episode.
    pub fn steps(&self) -> usize {
        self.steps
    }
    /// Pulls arm `a`; returns `(reward, truncated)`.
    pub fn pull(&mut self, a: usize) -> Result<(f64, bool)> {
        let p = *self.probs.get(a).ok_or_else(|| EnvsError::Action {
            action: a.to_string(),
            reason: format!("this bandit has arms 0..{}", self.probs.len()),
        })?;
        let r = if self.rng.random::<f64>() < p {
            1.0
        } else {
            0.0
        };
        self.steps += 1;
        Ok((r, self.steps >= self.horizon))
    }
}

impl Environment for BernoulliBandit {
    fn observation_space(&self) -> Space {
        Space::Discrete(1)
    }
    fn action_space(&self) -> Space {
        Space::Discrete(self.probs.len())
    }
    fn reset(&mut self, seed: Option<u64>) -> (Observation, Info) {
        if let Some(s) = seed {
            self.rng = Seed(s).rng("bandit");
        }
        self.steps = 0;
        (vec![0.0], Info::new())
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let a = match action {
            Action::Discrete(a) => *a,
            Action::Continuous(v) => {
                return Err(EnvsError::Action {
                    action: format!("{v:?}"),
                    reason: "bandit arms are discrete".into(),
                }
                .into())
            }
        };
        let (reward, truncated) = self.pull(a)?;
        Ok(StepResult {
            obs: vec![0.0],
            reward,
            terminated: false,
            truncated,
            info: Info::new(),
        })
    }
    fn tabular(&self) -> Option<&dyn TabularModel> {
        Some(self)
    }
    fn state_index(&self) -> Option<usize> {
        Some(0)
    }
    fn render_ansi(&self) -> Option<String> {
        let arms: Vec<String> = self.probs.iter().map(|p| format!("{p:.2}")).collect();
        Some(format!(
            "bandit p = [{}], pull {}/{}\n",
            arms.join(", "),
            self.steps,
            self.horizon
        ))
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

impl TabularModel for BernoulliBandit {
    fn num_states(&self) -> usize {
        1
    }
    fn num_actions(&self) -> usize {
        self.probs.len()
    }
    fn transitions(&self, _s: usize, a: usize) -> &[Transition] {
        &self.table[a]
    }
    fn initial_distribution(&self) -> Vec<(usize, f64)> {
        vec![(0, 1.0)]
    }
    fn is_terminal(&self, _s: usize) -> bool {
        false
    }
    fn observation_of(&self, s: usize) -> Option<Observation> {
        // The single state's observation, the one `reset` and `step` give.
        (s == 0).then(|| vec![0.0])
    }
}

/// Bandits with `p ~ U[0, 1]` per arm (every split draws from the same distribution).
#[derive(Clone, Debug)]
pub struct BanditDistribution {
    arms: usize,
    horizon: usize,
}

impl BanditDistribution {
    /// A distribution of `arms`-armed bandits with episodes of `horizon` pulls.
    pub fn new(arms: usize, horizon: usize) -> Result<Self> {
        if arms == 0 || horizon == 0 {
            return Err(EnvsError::Invalid(
                "a bandit distribution needs arms >= 1 and horizon >= 1".into(),
            ));
        }
        Ok(BanditDistribution { arms, horizon })
    }
    /// Draws a bandit.
    pub fn sample_bandit(&self, rng: &mut Rng) -> Result<BernoulliBandit> {
        let seed = Seed(rng.random());
        BernoulliBandit::random(self.arms, self.horizon, rng, seed)
    }
}

impl EnvDistribution for BanditDistribution {
    fn sample_env(
        &self,
        _split: Split,
        rng: &mut Rng,
    ) -> autodidact_core::Result<Box<dyn Environment>> {
        Ok(Box::new(self.sample_bandit(rng)?))
    }
    fn template(&self) -> Box<dyn Environment> {
        Box::new(BernoulliBandit::unchecked(
            vec![0.5; self.arms.max(1)],
            self.horizon.max(1),
            Seed(0),
        ))
    }
}

fn build_bandit(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = BanditParams::from_config(config)?;
    Ok(EnvInstance::Rl(Box::new(BernoulliBandit::from_params(
        &p, seed,
    )?)))
}

fn build_bandit_distribution(config: &Config, _seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = BanditParams::from_config(config)?;
    if !p.probs.is_empty() {
        return Err(EnvsError::param(
            "probs",
            "a bandit distribution draws its own probabilities; leave `probs` empty",
        )
        .into());
    }
    Ok(EnvInstance::MetaRl(Box::new(BanditDistribution::new(
        p.arms, p.horizon,
    )?)))
}

autodidact_core::register_env! {
    name: "bandit",
    kind: EnvKind::Rl,
    summary: "K-armed Bernoulli bandit (probabilities given or drawn U[0,1] from the seed)",
    params: BanditParams::docs,
    default_config: BanditParams::default_config,
    build: build_bandit,
}

autodidact_core::register_env! {
    name: "bandit-distribution",
    kind: EnvKind::MetaRl,
    summary: "distribution of K-armed Bernoulli bandits, p ~ U[0,1] per arm (meta-RL)",
    params: BanditParams::docs,
    default_config: BanditParams::default_config,
    build: build_bandit_distribution,
}
