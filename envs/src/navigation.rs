//! 2D navigation (Finn et al. 2017, §5.3; rllab's `PointEnvRandGoal`): a point starts at the
//! origin and moves by its action, clipped to `±max_action` per coordinate; the reward is
//! minus the Euclidean distance to the goal after the move; the episode ends when both
//! coordinates are within `goal_radius` of the goal, or after `max_steps` steps. The goal is
//! not observed (the observation is the position): it must be found from the rewards.
//!
//! `navigation-2d` is a distribution of such environments (meta-RL): the build seed draws a
//! pool of `goals` goals uniformly from the square `[goal_low, goal_high]²` and splits it into
//! disjoint train / validation / test goals, as `gridworld-goals` splits its cells.
//!
//! The optimum is known in closed form: the reachable set after `t` steps is the box
//! `±t · max_action` around the start, so moving each coordinate towards the goal at full
//! speed (`a = clip(goal − position, ±max_action)`) is at every step the closest any policy can
//! be, and ends the episode first. [`Navigation2d::optimal_return`] runs that policy; `reset`
//! reports it in its info as `optimal_return`.

use autodidact_core::config::check_range;
use autodidact_core::{
    Action, Config, EnvDistribution, EnvInstance, EnvKind, Environment, Hyperparams, Info,
    Observation, Rng, Seed, Space, Split, StepResult,
};
use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{EnvsError, Result};

/// Parameters of [`NavigationGoals`] and its environments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Hyperparams)]
#[serde(default, deny_unknown_fields)]
#[hyperparams(check = NavigationParams::relations)]
pub struct NavigationParams {
    /// Lower bound of each goal coordinate.
    #[param(min = -1e6, max = 1e6)]
    pub goal_low: f64,
    /// Upper bound of each goal coordinate.
    #[param(min = -1e6, max = 1e6)]
    pub goal_high: f64,
    /// The action is clipped to ±this per coordinate.
    #[param(gt = 0, max = 1e6)]
    pub max_action: f64,
    /// Time limit.
    #[param(min = 1, max = 100_000_000)]
    pub max_steps: usize,
    /// The episode ends when both coordinates are closer than this to the goal (0: never).
    #[param(min = 0, max = 1e6)]
    pub goal_radius: f64,
    /// Goals drawn by the build seed and split into train / validation / test.
    #[param(min = 3, max = 10_000_000)]
    pub goals: usize,
    /// Share of the goals for meta-training.
    #[param(min = 0, max = 1)]
    pub train_fraction: f64,
    /// Share of the goals for validation (the rest: test).
    pub validation_fraction: f64,
}

impl Default for NavigationParams {
    fn default() -> Self {
        NavigationParams {
            goal_low: -0.5,
            goal_high: 0.5,
            max_action: 0.1,
            max_steps: 100,
            goal_radius: 0.01,
            goals: 1000,
            train_fraction: 0.6,
            validation_fraction: 0.2,
        }
    }
}

impl NavigationParams {
    fn relations(&self) -> autodidact_core::Result<()> {
        if self.goal_low.is_nan() || self.goal_high.is_nan() || self.goal_low >= self.goal_high {
            return Err(autodidact_core::CoreError::Config {
                key: "goal_high".into(),
                reason: format!(
                    "the goal square needs goal_low < goal_high, got {} and {}",
                    self.goal_low, self.goal_high
                ),
            });
        }
        check_range(
            "validation_fraction",
            self.validation_fraction,
            0.0,
            1.0 - self.train_fraction,
        )?;
        Ok(())
    }
}

/// One 2D navigation environment: a point, a hidden goal.
#[derive(Clone, Debug)]
pub struct Navigation2d {
    goal: [f64; 2],
    pos: [f64; 2],
    steps: usize,
    max_steps: usize,
    max_action: f64,
    goal_radius: f64,
}

impl Navigation2d {
    /// The environment with its goal at `goal`, with the dynamics of `p`.
    pub fn new(goal: [f64; 2], p: &NavigationParams) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        if !goal.iter().all(|g| g.is_finite()) {
            return Err(EnvsError::Invalid(format!(
                "the goal {goal:?} is not finite"
            )));
        }
        Ok(Navigation2d {
            goal,
            pos: [0.0; 2],
            steps: 0,
            max_steps: p.max_steps,
            max_action: p.max_action,
            goal_radius: p.goal_radius,
        })
    }

    /// The goal.
    pub fn goal(&self) -> [f64; 2] {
        self.goal
    }

    /// The position, in full precision.
    pub fn position(&self) -> [f64; 2] {
        self.pos
    }

    fn obs(&self) -> Observation {
        vec![self.pos[0] as f32, self.pos[1] as f32]
    }

    /// Moves by `a` (clipped); returns `(reward, terminated, truncated)`.
    pub fn step_xy(&mut self, a: [f64; 2]) -> (f64, bool, bool) {
        for (p, &d) in self.pos.iter_mut().zip(&a) {
            *p += d.clamp(-self.max_action, self.max_action);
        }
        self.steps += 1;
        let (dx, dy) = (self.pos[0] - self.goal[0], self.pos[1] - self.goal[1]);
        let reward = -(dx * dx + dy * dy).sqrt();
        let terminated =
            self.goal_radius > 0.0 && dx.abs() < self.goal_radius && dy.abs() < self.goal_radius;
        (
            reward,
            terminated,
            !terminated && self.steps >= self.max_steps,
        )
    }

    /// The optimal return from the start: each coordinate moved towards the goal at full
    /// speed until the episode ends.
    pub fn optimal_return(&self) -> f64 {
        let mut e = self.clone();
        e.pos = [0.0; 2];
        e.steps = 0;
        let mut total = 0.0;
        loop {
            let a = [e.goal[0] - e.pos[0], e.goal[1] - e.pos[1]];
            let (r, term, trunc) = e.step_xy(a);
            total += r;
            if term || trunc {
                return total;
            }
        }
    }
}

impl Environment for Navigation2d {
    fn observation_space(&self) -> Space {
        Space::bounded(vec![f32::NEG_INFINITY; 2], vec![f32::INFINITY; 2])
    }
    fn action_space(&self) -> Space {
        let m = self.max_action as f32;
        Space::bounded(vec![-m; 2], vec![m; 2])
    }
    fn reset(&mut self, _seed: Option<u64>) -> (Observation, Info) {
        self.pos = [0.0; 2];
        self.steps = 0;
        let mut info = Info::new();
        info.insert("optimal_return".into(), self.optimal_return());
        (self.obs(), info)
    }
    fn step(&mut self, action: &Action) -> autodidact_core::Result<StepResult> {
        let a = match action {
            Action::Continuous(v) if v.len() == 2 && v.iter().all(|x| !x.is_nan()) => {
                [f64::from(v[0]), f64::from(v[1])]
            }
            other => {
                return Err(EnvsError::Action {
                    action: format!("{other:?}"),
                    reason: "navigation-2d takes Continuous([dx, dy]), two numbers (clipped to \
                             ±max_action)"
                        .into(),
                }
                .into())
            }
        };
        let (reward, terminated, truncated) = self.step_xy(a);
        // No per-step info: the distance is minus the reward, and an entry would cost an
        // allocation on every step of every episode.
        Ok(StepResult {
            obs: self.obs(),
            reward,
            terminated,
            truncated,
            info: Info::new(),
        })
    }
    fn render_ansi(&self) -> Option<String> {
        Some(format!(
            "position ({:+.3}, {:+.3}), goal ({:+.3}, {:+.3}), step {}\n",
            self.pos[0], self.pos[1], self.goal[0], self.goal[1], self.steps
        ))
    }
    fn clone_box(&self) -> Box<dyn Environment> {
        Box::new(self.clone())
    }
}

/// 2D navigation tasks: a pool of goals split into train / validation / test.
#[derive(Clone, Debug)]
pub struct NavigationGoals {
    params: NavigationParams,
    goals: [Vec<[f64; 2]>; 3],
}

impl NavigationGoals {
    /// The pool of `p.goals` goals drawn and split by `seed`.
    pub fn from_params(p: &NavigationParams, seed: Seed) -> Result<Self> {
        p.validate()
            .map_err(|e| EnvsError::Invalid(e.to_string()))?;
        let mut rng = seed.rng("navigation-goals");
        let mut goals: Vec<[f64; 2]> = (0..p.goals)
            .map(|_| {
                [
                    rng.random_range(p.goal_low..p.goal_high),
                    rng.random_range(p.goal_low..p.goal_high),
                ]
            })
            .collect();
        goals.shuffle(&mut seed.rng("goal-split"));
        let n = goals.len();
        let n_train = ((p.train_fraction * n as f64).round() as usize).clamp(1, n - 2);
        let n_val = ((p.validation_fraction * n as f64).round() as usize).clamp(1, n - n_train - 1);
        let test = goals.split_off(n_train + n_val);
        let val = goals.split_off(n_train);
        Ok(NavigationGoals {
            params: p.clone(),
            goals: [goals, val, test],
        })
    }

    /// The goals of a split.
    pub fn goals(&self, split: Split) -> &[[f64; 2]] {
        match split {
            Split::Train => &self.goals[0],
            Split::Validation => &self.goals[1],
            Split::Test => &self.goals[2],
        }
    }

    /// An environment of a split, and its goal.
    pub fn sample_navigation(&self, split: Split, rng: &mut Rng) -> Result<Navigation2d> {
        let goals = self.goals(split);
        let g = goals[rng.random_range(0..goals.len())];
        Navigation2d::new(g, &self.params)
    }
}

impl EnvDistribution for NavigationGoals {
    fn sample_env(
        &self,
        split: Split,
        rng: &mut Rng,
    ) -> autodidact_core::Result<Box<dyn Environment>> {
        Ok(Box::new(self.sample_navigation(split, rng)?))
    }
    fn template(&self) -> Box<dyn Environment> {
        match Navigation2d::new(self.goals[0][0], &self.params) {
            Ok(e) => Box::new(e),
            // The parameters were validated when the pool was built.
            Err(e) => panic!("navigation-2d: {e}"),
        }
    }
}

fn build_navigation(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let p = NavigationParams::from_config(config)?;
    Ok(EnvInstance::MetaRl(Box::new(NavigationGoals::from_params(
        &p, seed,
    )?)))
}

autodidact_core::register_env! {
    name: "navigation-2d",
    kind: EnvKind::MetaRl,
    summary: "Finn et al.'s 2D navigation (meta-RL): a point moved by a clipped action towards a hidden goal, reward minus the distance; goals split into train/validation/test",
    params: NavigationParams::docs,
    default_config: NavigationParams::default_config,
    build: build_navigation,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(goal: [f64; 2]) -> Navigation2d {
        Navigation2d::new(goal, &NavigationParams::default()).unwrap()
    }

    #[test]
    fn moves_by_the_clipped_action_and_rewards_minus_the_distance() {
        let mut e = env([0.3, -0.4]);
        let (obs, info) = e.reset(Some(7));
        assert_eq!(obs, vec![0.0, 0.0]);
        assert!(info.contains_key("optimal_return"));
        // Within the bounds: moved exactly.
        let r = e.step(&Action::Continuous(vec![0.05, -0.02])).unwrap();
        assert_eq!(r.obs, vec![0.05f32 as f64 as f32, -0.02f32 as f64 as f32]);
        let d = ((0.3 - f64::from(0.05f32)).powi(2) + (-0.4 - f64::from(-0.02f32)).powi(2)).sqrt();
        assert!((r.reward + d).abs() < 1e-12, "{} vs {}", r.reward, -d);
        assert!(!r.terminated && !r.truncated);
        // Beyond the bounds: clipped per coordinate to ±0.1.
        let before = e.position();
        e.step(&Action::Continuous(vec![5.0, -0.5])).unwrap();
        let after = e.position();
        assert!((after[0] - before[0] - 0.1).abs() < 1e-12);
        assert!((after[1] - before[1] + 0.1).abs() < 1e-12);
    }

    #[test]
    fn ends_at_the_goal_or_the_time_limit() {
        let mut e = env([0.1, 0.1]);
        e.reset(None);
        let r = e.step(&Action::Continuous(vec![0.1, 0.1])).unwrap();
        assert!(r.terminated && !r.truncated && r.reward.abs() < 1e-12);
        let p = NavigationParams {
            max_steps: 3,
            ..NavigationParams::default()
        };
        let mut e = Navigation2d::new([0.4, 0.4], &p).unwrap();
        e.reset(None);
        let ends: Vec<bool> = (0..3)
            .map(|_| {
                e.step(&Action::Continuous(vec![0.0, 0.0]))
                    .unwrap()
                    .truncated
            })
            .collect();
        assert_eq!(ends, vec![false, false, true]);
        // A goal radius of 0 never terminates.
        let p = NavigationParams {
            goal_radius: 0.0,
            ..NavigationParams::default()
        };
        let mut e = Navigation2d::new([0.1, 0.1], &p).unwrap();
        e.reset(None);
        assert!(
            !e.step(&Action::Continuous(vec![0.1, 0.1]))
                .unwrap()
                .terminated
        );
    }

    #[test]
    fn optimal_return_is_full_speed_per_coordinate_and_nothing_beats_it() {
        let e = env([0.25, -0.05]);
        // Steps: (0.1, −0.05) → (0.2, −0.05) → (0.25, −0.05): distances d1, d2, 0 (ends).
        let d1 = (0.15f64.powi(2)).sqrt();
        let d2 = 0.05;
        assert!((e.optimal_return() + d1 + d2).abs() < 1e-12);
        // Random and straight-line policies never do better.
        let mut rng = Seed(3).rng("test");
        for _ in 0..200 {
            let mut x = e.clone();
            x.reset(None);
            let mut total = 0.0;
            loop {
                let a = [rng.random_range(-0.2..0.2), rng.random_range(-0.2..0.2)];
                let (r, t, u) = x.step_xy(a);
                total += r;
                if t || u {
                    break;
                }
            }
            assert!(total <= e.optimal_return() + 1e-12);
        }
        let mut x = e.clone();
        x.reset(None);
        let mut straight = 0.0;
        loop {
            // The same direction at the largest speed whose coordinates fit in ±0.1.
            let (dx, dy) = (x.goal[0] - x.pos[0], x.goal[1] - x.pos[1]);
            let s = (0.1 / dx.abs().max(dy.abs())).min(1.0);
            let (r, t, u) = x.step_xy([dx * s, dy * s]);
            straight += r;
            if t || u {
                break;
            }
        }
        assert!(straight <= e.optimal_return() + 1e-12);
    }

    #[test]
    fn goal_splits_are_disjoint_deterministic_and_in_the_square() {
        let p = NavigationParams::default();
        let a = NavigationGoals::from_params(&p, Seed(4)).unwrap();
        let b = NavigationGoals::from_params(&p, Seed(4)).unwrap();
        let c = NavigationGoals::from_params(&p, Seed(5)).unwrap();
        let key = |g: &[f64; 2]| (g[0].to_bits(), g[1].to_bits());
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for split in [Split::Train, Split::Validation, Split::Test] {
            assert_eq!(a.goals(split), b.goals(split));
            assert_ne!(a.goals(split), c.goals(split));
            for g in a.goals(split) {
                assert!(g.iter().all(|&x| (-0.5..0.5).contains(&x)));
                assert!(seen.insert(key(g)), "a goal in two splits");
                total += 1;
            }
        }
        assert_eq!(total, 1000);
        assert_eq!(
            (
                a.goals(Split::Train).len(),
                a.goals(Split::Validation).len()
            ),
            (600, 200)
        );
        // A sampled test environment's goal is a test goal.
        let mut rng = Seed(1).rng("s");
        for _ in 0..20 {
            let e = a.sample_navigation(Split::Test, &mut rng).unwrap();
            assert!(a.goals(Split::Test).contains(&e.goal()));
        }
    }

    #[test]
    fn bad_configurations_and_actions_are_refused() {
        use autodidact_core::Hyperparams as _;
        let bad = |f: &dyn Fn(&mut NavigationParams), key: &str| {
            let mut p = NavigationParams::default();
            f(&mut p);
            let err = NavigationGoals::from_params(&p, Seed(0))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        };
        bad(&|p| p.goal_low = 1.0, "goal_high");
        bad(&|p| p.max_action = 0.0, "max_action");
        bad(&|p| p.goals = 2, "goals");
        bad(&|p| p.max_steps = 0, "max_steps");
        bad(&|p| p.validation_fraction = 0.5, "validation_fraction");
        bad(&|p| p.goal_radius = -1.0, "goal_radius");
        let mut c = NavigationParams::default_config();
        c.insert("goal_hihg".into(), toml::Value::from(1.0));
        assert!(NavigationParams::from_config(&c)
            .unwrap_err()
            .to_string()
            .contains("goal_hihg"));
        let mut e = env([0.1, 0.1]);
        e.reset(None);
        assert!(e.step(&Action::Discrete(0)).is_err());
        assert!(e.step(&Action::Continuous(vec![0.1])).is_err());
        assert!(e.step(&Action::Continuous(vec![f32::NAN, 0.0])).is_err());
    }
}
