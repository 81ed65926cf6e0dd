//! The trial mechanics: the hidden state persists across a trial's episodes and resets
//! between trials (the log-probabilities stored while acting step by step equal those of one
//! unroll of the whole trial from the zero state), and the inputs carry the previous action,
//! reward and episode end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use autodidact_core::{EnvDistribution, Params, Seed, Split, Tape, Var};
use autodidact_envs::{BanditDistribution, GridworldGoals, GridworldGoalsParams};
use ndarray::{ArrayD, IxDyn};

use super::network::{ObsEncoding, RecurrentPolicy};
use super::trials::{play, Play, Trial};
use crate::pg::distribution::categorical_log_prob;

fn net(dist: &dyn EnvDistribution, hidden: usize) -> (RecurrentPolicy, Params<f32>) {
    let t = dist.template();
    let mut params = Params::new();
    let actions = t.action_space().n().unwrap();
    let mut rng = Seed(1).rng("init");
    let net = RecurrentPolicy::new(
        &mut params,
        ObsEncoding::of(&t.observation_space()),
        actions,
        hidden,
        &mut rng,
    );
    // Larger policy weights than the initialisation's, so the log-probabilities vary.
    let w = net.policy.weight;
    params.tensors_mut()[w].mapv_inplace(|x| x * 300.0);
    (net, params)
}

fn trials(
    dist: &dyn EnvDistribution,
    n: usize,
    episodes: usize,
) -> (RecurrentPolicy, Params<f32>, Vec<Trial>) {
    let (net, params) = net(dist, 8);
    let mut tasks = Seed(2).rng("tasks");
    let envs = (0..n)
        .map(|_| dist.sample_env(Split::Train, &mut tasks).unwrap())
        .collect();
    let seeds: Vec<Seed> = (0..n as u64).map(|i| Seed(100 + i)).collect();
    let how = Play {
        net: &net,
        params: &params,
        episodes,
        max_episode_steps: 7,
        deterministic: false,
    };
    let out = play(&how, envs, &seeds, &mut Seed(3).rng("act")).unwrap();
    (net, params, out)
}

/// Re-evaluates every trial by one unroll from zero over all its steps.
fn unrolled_log_probs(net: &RecurrentPolicy, params: &Params<f32>, tr: &Trial) -> Vec<f32> {
    let _t = Tape::<f32>::new();
    let p = _t.params(params);
    let steps = tr.len();
    let x = ArrayD::from_shape_vec(IxDyn(&[steps, net.input_dim()]), tr.inputs.clone()).unwrap();
    let h0 = Var::constant(ArrayD::zeros(IxDyn(&[1, net.hidden()])));
    let (logits, _) = net.forward(&p, Var::constant(x), h0, steps, 1);
    categorical_log_prob(logits, &tr.actions)
        .value()
        .iter()
        .copied()
        .collect()
}

#[test]
fn hidden_state_spans_the_trial_and_resets_between_trials() {
    let dist = BanditDistribution::new(3, 5).unwrap();
    let (net, params, out) = trials(&dist, 4, 3);
    for tr in &out {
        assert_eq!(tr.len(), 15);
        assert_eq!(tr.episode_returns.len(), 3);
        let lp = unrolled_log_probs(&net, &params, tr);
        for (t, (&a, &b)) in lp.iter().zip(&tr.log_probs).enumerate() {
            assert!((f64::from(a) - b).abs() < 1e-4, "step {t}: {a} vs {b}");
        }
    }
    // Resetting the state at an episode boundary would change the later steps: the stored
    // log-probabilities are not those of the second episode replayed from zero.
    let tr = &out[0];
    let second = Trial {
        inputs: tr.inputs[5 * net.input_dim()..].to_vec(),
        actions: tr.actions[5..].to_vec(),
        ..Trial::default()
    };
    let fresh = unrolled_log_probs(&net, &params, &second);
    let differs = fresh
        .iter()
        .zip(&tr.log_probs[5..])
        .any(|(&a, &b)| (f64::from(a) - b).abs() > 1e-3);
    assert!(differs, "the second episode did not depend on the first");
}

#[test]
fn inputs_carry_previous_action_reward_and_episode_end() {
    let dist = BanditDistribution::new(3, 2).unwrap();
    let (net, _, out) = trials(&dist, 3, 2);
    let d = net.input_dim(); // 1 (one-hot of the single state) + 3 + 2
    assert_eq!(d, 6);
    for tr in &out {
        // First step of a trial: nothing before it.
        assert_eq!(&tr.inputs[..d], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        for t in 1..tr.len() {
            let row = &tr.inputs[t * d..(t + 1) * d];
            let mut action = [0.0f32; 3];
            action[tr.actions[t - 1]] = 1.0;
            assert_eq!(&row[1..4], &action, "step {t}");
            assert_eq!(f64::from(row[4]), tr.rewards[t - 1], "step {t}");
            // Episodes of 2 pulls: steps 2 follows an episode's end.
            assert_eq!(row[5], if t == 2 { 1.0 } else { 0.0 }, "step {t}");
        }
    }
}

#[test]
fn gridworld_trials_cut_long_episodes_and_keep_going() {
    let dist = GridworldGoals::from_params(&GridworldGoalsParams::default(), Seed(4)).unwrap();
    let (net, params, out) = trials(&dist, 2, 2);
    for tr in &out {
        assert_eq!(tr.episode_returns.len(), 2);
        assert!(tr.len() <= 14);
        let lp = unrolled_log_probs(&net, &params, tr);
        for (&a, &b) in lp.iter().zip(&tr.log_probs) {
            assert!((f64::from(a) - b).abs() < 1e-4);
        }
    }
}
