//! Gridworld maps, exact model, dynamics, observations, rendering and the moving-goal distribution.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use autodidact_core::{
    Action, Config, EnvDistribution, Environment, Hyperparams, Seed, Space, Split, TabularModel,
};
use autodidact_envs::gridworld::{
    Cell, GridMap, GridOptions, Gridworld, GridworldParams, ObservationKind, ObservationName,
    PngOptions, BUILTIN_MAPS,
};
use autodidact_envs::gridworld_goals::{GridworldGoals, GridworldGoalsParams};
use autodidact_envs::EnvsError;
use proptest::prelude::*;

fn map_err(text: &str) -> (usize, usize, String) {
    match GridMap::parse(text) {
        Err(EnvsError::Map {
            line,
            column,
            reason,
        }) => (line, column, reason),
        other => panic!("expected a map error, got {other:?}"),
    }
}

#[test]
fn builtin_maps_parse_and_have_sensible_models() {
    for b in BUILTIN_MAPS {
        let g = Gridworld::builtin(b.name).unwrap();
        let m = g.model();
        assert!(m.num_states() > 0, "{}", b.name);
        assert_eq!(m.num_actions(), 4);
        assert!(
            (0..m.num_states()).any(|s| m.is_terminal(s)),
            "{} has a terminal state",
            b.name
        );
    }
    let fl = Gridworld::builtin("frozen-lake-4x4").unwrap();
    assert_eq!(fl.model().num_states(), 16);
    assert!((fl.model().options().slip - 2.0 / 3.0).abs() < 1e-12);
    let fr = Gridworld::builtin("four-rooms").unwrap();
    assert_eq!(fr.model().num_states(), 104);
    assert!(Gridworld::builtin("nope").is_err());
}

#[test]
fn malformed_maps_name_line_and_column() {
    let (l, c, r) = map_err("S..\n.x.\n..G\n");
    assert_eq!((l, c), (2, 2));
    assert!(
        r.contains("'x'") || r.contains("`x`") || r.contains("x"),
        "{r}"
    );
    let (l, c, r) = map_err("S..\n.X.\n..G\n");
    assert_eq!((l, c), (2, 2));
    assert!(r.contains("unknown cell"), "{r}");
    let (l, c, r) = map_err("\nS...\n..\n...G\n");
    assert_eq!((l, c), (3, 3));
    assert!(r.contains("2 cells") && r.contains("4"), "{r}");
    let (l, _, r) = map_err("...\n..G\n");
    assert_eq!(l, 1);
    assert!(r.contains("no start"), "{r}");
    let (_, _, r) = map_err("   \n\n");
    assert!(r.contains("empty"), "{r}");
    let (l, c, r) = map_err("S.a\n");
    assert_eq!((l, c), (1, 3));
    assert!(r.contains("legend"), "{r}");
    let (l, c, r) = map_err("S.a\n\na = lots\n");
    assert_eq!((l, c), (3, 5));
    assert!(r.contains("lots"), "{r}");
    let (l, _, r) = map_err("S.G\n\nwind = 3\n");
    assert_eq!(l, 3);
    assert!(r.contains("unknown legend key"), "{r}");
    let (l, _, r) = map_err("S.G\n\njust words\n");
    assert_eq!(l, 3);
    assert!(r.contains("key = value"), "{r}");
    let (_, _, r) = map_err("S.G\n\nslip = 1.5\n");
    assert!(r.contains("probability"), "{r}");
    // The message reads well.
    let msg = GridMap::parse("S?G").unwrap_err().to_string();
    assert!(msg.starts_with("map line 1, column 2:"), "{msg}");
}

#[test]
fn legend_sets_rewards_and_defaults() {
    let m =
        GridMap::parse("Sab7\n\n; rewards\na = 2.5\nb = -3\nstep_reward = -0.1\nmax_steps = 9\n")
            .unwrap();
    assert_eq!(m.cell(0, 1), Cell::Goal(Some(2.5), 'a'));
    assert_eq!(m.cell(0, 3), Cell::Goal(Some(7.0), '7'));
    assert_eq!(m.defaults.step_reward, -0.1);
    assert_eq!(m.defaults.max_steps, 9);
    let g = Gridworld::from_ascii("S.a\n\na = 4\n").unwrap();
    let t = g.model().transitions(1, 3);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].next, t[0].reward, t[0].done), (2, 4.0, true));
}

#[test]
fn tabular_probabilities_sum_to_one() {
    for b in BUILTIN_MAPS {
        let mut p = GridworldParams {
            map: b.name.into(),
            ..GridworldParams::default()
        };
        for slip in [0.0, 0.2, 2.0 / 3.0, 1.0] {
            p.slip = Some(slip);
            let g = Gridworld::from_params(&p, Seed(1)).unwrap();
            let m = g.model();
            for s in 0..m.num_states() {
                for a in 0..4 {
                    let ts = m.transitions(s, a);
                    let total: f64 = ts.iter().map(|t| t.prob).sum();
                    assert!(
                        (total - 1.0).abs() < 1e-12,
                        "{} s={s} a={a}: {total}",
                        b.name
                    );
                    assert!(ts.iter().all(|t| t.prob > 0.0 && t.next < m.num_states()));
                }
            }
            let init: f64 = m.initial_distribution().iter().map(|x| x.1).sum();
            assert!((init - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn step_statistics_agree_with_the_model() {
    let mut g = Gridworld::builtin("frozen-lake-4x4").unwrap();
    let n = 20_000;
    for (s, a) in [(0usize, 3usize), (4, 1), (9, 2), (14, 3)] {
        let s = s.min(g.model().num_states() - 1);
        if g.model().is_terminal(s) {
            continue;
        }
        let mut counts = std::collections::BTreeMap::<(usize, u64), usize>::new();
        for _ in 0..n {
            g.set_state(s).unwrap();
            let r = g.step(&Action::Discrete(a)).unwrap();
            *counts.entry((g.state(), r.reward.to_bits())).or_default() += 1;
        }
        for t in g.model().transitions(s, a) {
            let k = counts
                .get(&(t.next, t.reward.to_bits()))
                .copied()
                .unwrap_or(0) as f64
                / n as f64;
            let sd = (t.prob * (1.0 - t.prob) / n as f64).sqrt();
            assert!(
                (k - t.prob).abs() < 5.0 * sd + 1e-9,
                "s={s} a={a} next={}: {k} vs {}",
                t.next,
                t.prob
            );
        }
        assert_eq!(counts.values().sum::<usize>(), n);
        assert_eq!(counts.len(), g.model().transitions(s, a).len());
    }
}

#[test]
fn slip_goes_sideways() {
    let map = GridMap::parse(".....\n.....\n..S..\n.....\n.....\n").unwrap();
    let opts = GridOptions {
        slip: 0.4,
        ..GridOptions::from_map(&map)
    };
    let g = Gridworld::new(map, opts, Seed(0)).unwrap();
    let m = g.model();
    let s = m.state_at(2, 2).unwrap();
    let ts = m.transitions(s, 0); // up
    let find = |r, c| {
        ts.iter()
            .find(|t| t.next == m.state_at(r, c).unwrap())
            .map(|t| t.prob)
            .unwrap()
    };
    assert!((find(1, 2) - 0.6).abs() < 1e-12);
    assert!((find(2, 1) - 0.2).abs() < 1e-12);
    assert!((find(2, 3) - 0.2).abs() < 1e-12);
    // Into a wall: stay.
    let g = Gridworld::from_ascii("#\nS\n").unwrap();
    let t = g.model().transitions(0, 0);
    assert_eq!((t.len(), t[0].next), (1, 0));
}

#[test]
fn terminal_states_absorb_and_time_limit_truncates() {
    let mut g = Gridworld::from_ascii("SL.G\n\nmax_steps = 3\n").unwrap();
    g.reset(None);
    let r = g.step(&Action::Discrete(3)).unwrap();
    assert!(r.terminated && !r.truncated);
    assert_eq!(r.reward, -1.0);
    let r = g.step(&Action::Discrete(3)).unwrap();
    assert!(r.terminated && r.reward == 0.0, "absorbing after the end");
    g.reset(None);
    let mut last = None;
    for _ in 0..3 {
        last = Some(g.step(&Action::Discrete(2)).unwrap());
    }
    let last = last.unwrap();
    assert!(last.truncated && !last.terminated);
    assert!(g.step(&Action::Discrete(9)).is_err());
    assert!(g.step(&Action::Continuous(vec![0.0])).is_err());
}

#[test]
fn cliff_sends_back_to_start() {
    let mut g = Gridworld::builtin("cliff-walk").unwrap();
    let (obs0, _) = g.reset(None);
    let start = g.state();
    g.step(&Action::Discrete(0)).unwrap(); // up
    let r = g.step(&Action::Discrete(3)).unwrap(); // right, along row 2
    assert_eq!(r.reward, -1.0);
    g.step(&Action::Discrete(1)).unwrap(); // down into the cliff
    assert_eq!(g.state(), start);
    let r = g.step(&Action::Discrete(3)).unwrap(); // right from the start: the cliff
    assert_eq!(r.reward, -100.0);
    assert!(!r.terminated);
    assert_eq!(r.obs, obs0);
}

/// Four-rooms with a local view of radius 1 when the observation is one.
fn four_rooms_seeing(observation: ObservationName) -> Gridworld {
    let p = GridworldParams {
        map: "four-rooms".into(),
        observation,
        view_radius: 1,
        ..GridworldParams::default()
    };
    Gridworld::from_params(&p, Seed(0)).unwrap()
}

#[test]
fn observations_have_the_space_shape() {
    for &name in ObservationName::ALL {
        let obs = name.name();
        let mut g = four_rooms_seeing(name);
        let space = g.observation_space();
        let (o, _) = g.reset(Some(3));
        assert_eq!(o.len(), space.flat_dim(), "{obs}");
        let r = g.step(&Action::Discrete(1)).unwrap();
        assert_eq!(r.obs.len(), space.flat_dim());
        match obs {
            "one-hot" => assert_eq!(o.iter().sum::<f32>(), 1.0),
            "index" => assert_eq!(space, Space::Discrete(104)),
            "coords" => assert_eq!(o, vec![1.0, 1.0]),
            _ => {
                // Start at (1,1) in four-rooms: walls above and left.
                assert_eq!(o.len(), 27);
                assert_eq!(&o[0..3], &[1.0, 1.0, 1.0]);
                assert_eq!(o[4], 0.0);
            }
        }
    }
    let mut bad = Config::new();
    bad.insert("observation".into(), "pixels".into());
    let err = GridworldParams::from_config(&bad).unwrap_err().to_string();
    assert!(
        err.contains("`observation`") && err.contains("one-hot"),
        "{err}"
    );
    let _ = ObservationKind::Index;
}

#[test]
fn the_model_gives_each_state_s_observation_on_demand() {
    for &name in ObservationName::ALL {
        let obs = name.name();
        let mut g = four_rooms_seeing(name);
        let n = g.model().num_states();
        let (o, _) = g.reset(Some(1));
        assert_eq!(g.tabular().unwrap().observation_of(g.state()), Some(o));
        // What a step shows is what the model says of the state it lands in.
        for a in [3, 1, 1, 3, 0, 2] {
            let r = g.step(&Action::Discrete(a)).unwrap();
            let s = g.state_index().unwrap();
            assert_eq!(g.tabular().unwrap().observation_of(s), Some(r.obs), "{obs}");
        }
        let m = g.tabular().unwrap();
        assert!((0..n).all(|s| m
            .observation_of(s)
            .is_some_and(|v| v == g.model().observation(s))));
        assert_eq!(m.observation_of(n), None);
    }
}

#[test]
fn episodes_are_reproducible_by_seed() {
    let run = |seed: u64| {
        let mut g = Gridworld::builtin("frozen-lake-8x8").unwrap();
        let mut trace = vec![];
        g.reset(Some(seed));
        for i in 0..300 {
            let r = g.step(&Action::Discrete(i % 4)).unwrap();
            trace.push((g.state(), r.terminated));
            if r.terminated || r.truncated {
                g.reset(None);
            }
        }
        trace
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
    // Clones carry the generator.
    let mut g = Gridworld::builtin("frozen-lake-4x4").unwrap();
    g.reset(Some(9));
    let mut c = g.clone_box();
    for _ in 0..20 {
        let a = g.step(&Action::Discrete(1)).unwrap();
        let b = c.step(&Action::Discrete(1)).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn random_maps_are_seeded() {
    let p = GridworldParams {
        map: "random".into(),
        rows: 9,
        cols: 7,
        ..GridworldParams::default()
    };
    let a = Gridworld::from_params(&p, Seed(1)).unwrap();
    let b = Gridworld::from_params(&p, Seed(1)).unwrap();
    let c = Gridworld::from_params(&p, Seed(2)).unwrap();
    assert_eq!(a.model().map(), b.model().map());
    assert_ne!(a.model().map(), c.model().map());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_maps_reach_every_open_cell(seed in any::<u64>(), rows in 1usize..12, cols in 2usize..12, wd in 0.0f64..0.9, ld in 0.0f64..0.5) {
        let mut rng = Seed(seed).rng("map");
        let map = GridMap::random(rows, cols, wd, ld, &mut rng).unwrap();
        let reach = map.reachable_from_start();
        let mut goals = 0;
        for (i, c) in map.cells().iter().enumerate() {
            if *c != Cell::Wall {
                prop_assert!(reach[i], "cell {i} unreachable in\n{}", map.to_ascii());
            }
            if matches!(c, Cell::Goal(..)) { goals += 1; }
        }
        prop_assert_eq!(goals, 1);
    }

    #[test]
    fn map_parser_never_panics(text in "[#.FSGLHC1-9a-c \n=;x-]{0,80}") {
        let _ = GridMap::parse(&text);
    }

    #[test]
    fn map_parser_never_panics_on_any_text(text in any::<String>()) {
        if let Err(e) = GridMap::parse(&text) { let _ = e.to_string(); }
    }

    #[test]
    fn truncated_maps_error_or_parse(cut in 0usize..200) {
        let text = autodidact_envs::gridworld::builtin("four-rooms").unwrap().text;
        let cut = cut.min(text.len());
        let _ = GridMap::parse(&text[..cut]);
    }
}

#[test]
fn map_files_and_missing_paths() {
    let dir = std::env::temp_dir().join(format!("autodidact-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.txt");
    std::fs::write(&good, "S..G\n").unwrap();
    let p = GridworldParams {
        map: good.display().to_string(),
        ..GridworldParams::default()
    };
    assert_eq!(
        Gridworld::from_params(&p, Seed(0))
            .unwrap()
            .model()
            .num_states(),
        4
    );
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "S..G\nS?\n").unwrap();
    let p = GridworldParams {
        map: bad.display().to_string(),
        ..GridworldParams::default()
    };
    let msg = Gridworld::from_params(&p, Seed(0)).unwrap_err().to_string();
    assert!(msg.contains("bad.txt") && msg.contains("line 2"), "{msg}");
    let p = GridworldParams {
        map: "no/such/map.txt".into(),
        ..GridworldParams::default()
    };
    let msg = Gridworld::from_params(&p, Seed(0)).unwrap_err().to_string();
    assert!(
        msg.contains("no/such/map.txt") && msg.contains("expected"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn renders_text_and_png() {
    let mut g = Gridworld::builtin("frozen-lake-4x4").unwrap();
    g.reset(None);
    assert_eq!(g.render_ansi().unwrap(), "@FFF\nFHFH\nFFFH\nHFFG\n");
    let n = g.model().num_states();
    let png_bytes = g
        .render_png(&PngOptions {
            cell_size: 10,
            values: Some((0..n).map(|s| s as f64).collect()),
            policy: Some(vec![3; n]),
            ..PngOptions::default()
        })
        .unwrap();
    let (w, h, _) = autodidact_envs::omniglot::decode_png(&png_bytes, "render").unwrap();
    assert_eq!((w, h), (41, 41));
    assert!(g
        .render_png(&PngOptions {
            values: Some(vec![0.0; 3]),
            ..PngOptions::default()
        })
        .is_err());
}

#[test]
fn goal_distribution_splits_are_disjoint_and_seeded() {
    let p = GridworldGoalsParams::default();
    let d = GridworldGoals::from_params(&p, Seed(4)).unwrap();
    let (tr, va, te) = (
        d.goals(Split::Train),
        d.goals(Split::Validation),
        d.goals(Split::Test),
    );
    assert!(!tr.is_empty() && !va.is_empty() && !te.is_empty());
    for g in tr {
        assert!(!va.contains(g) && !te.contains(g));
    }
    for g in va {
        assert!(!te.contains(g));
    }
    let d2 = GridworldGoals::from_params(&p, Seed(4)).unwrap();
    assert_eq!(d.goals(Split::Train), d2.goals(Split::Train));
    let mut rng = Seed(1).rng("meta");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let (g, goal) = d.sample_gridworld(Split::Validation, &mut rng).unwrap();
        assert!(va.contains(&goal));
        let (r, c) = goal;
        let s = g.model().state_at(r, c).unwrap();
        assert!(g.model().is_terminal(s));
        seen.insert(goal);
    }
    assert!(seen.len() > 1, "the goal moves");
    let env = d.sample_env(Split::Train, &mut rng).unwrap();
    assert_eq!(env.observation_space(), d.template().observation_space());
}

#[test]
fn dense_random_maps_carve_a_path() {
    for seed in 0..50 {
        let map = GridMap::random(8, 8, 0.9, 0.0, &mut Seed(seed).rng("map")).unwrap();
        let reach = map.reachable_from_start();
        let goal = map
            .cells()
            .iter()
            .position(|c| matches!(c, Cell::Goal(..)))
            .unwrap();
        assert!(reach[goal]);
        assert_eq!(map.to_ascii().len(), 8 * 9);
    }
}

/// Value iteration on the exact model.
fn optimal_values(m: &dyn TabularModel, gamma: f64) -> Vec<f64> {
    let mut v = vec![0.0; m.num_states()];
    for _ in 0..100_000 {
        let mut delta: f64 = 0.0;
        for s in 0..m.num_states() {
            if m.is_terminal(s) {
                continue;
            }
            let best = (0..m.num_actions())
                .map(|a| {
                    m.transitions(s, a)
                        .iter()
                        .map(|t| t.prob * (t.reward + if t.done { 0.0 } else { gamma * v[t.next] }))
                        .sum::<f64>()
                })
                .fold(f64::NEG_INFINITY, f64::max);
            delta = delta.max((best - v[s]).abs());
            v[s] = best;
        }
        if delta < 1e-13 {
            break;
        }
    }
    v
}

#[test]
fn exact_model_gives_known_optimal_values() {
    // Slippery FrozenLake 4x4: the optimal policy reaches the goal from the start with
    // probability 0.8235 (undiscounted, no time limit), a well-known figure.
    let g = Gridworld::builtin("frozen-lake-4x4").unwrap();
    let v = optimal_values(g.model(), 1.0);
    assert!((v[0] - 0.8235).abs() < 1e-3, "{}", v[0]);
    // Cliff walk, deterministic: the shortest path along the cliff edge is 13 steps of -1.
    let g = Gridworld::builtin("cliff-walk").unwrap();
    let v = optimal_values(g.model(), 1.0);
    let start = g.model().starts()[0];
    assert!((v[start] + 13.0).abs() < 1e-9, "{}", v[start]);
}

#[test]
fn a_map_without_a_goal_is_refused() {
    let p = GridworldParams {
        map: "S...\n....\n".into(),
        ..GridworldParams::default()
    };
    let msg = Gridworld::from_params(&p, Seed(0)).unwrap_err().to_string();
    assert!(msg.contains("no goal"), "{msg}");
}

#[test]
fn an_unreachable_goal_is_warned_about_and_the_model_says_so() {
    let p = GridworldParams {
        map: "S.#G\n..#.\n".into(),
        ..GridworldParams::default()
    };
    let g = Gridworld::from_params(&p, Seed(0)).unwrap();
    assert_eq!(g.model().warnings().len(), 1);
    assert!(g.model().warnings()[0].contains("no goal can be reached"));
    assert_eq!(g.model().map().warnings(), g.model().warnings());
    // Behind lava is unreachable too; a reachable goal gives no warning.
    assert_eq!(GridMap::parse("SLG\n").unwrap().warnings().len(), 1);
    assert!(Gridworld::builtin("four-rooms")
        .unwrap()
        .model()
        .warnings()
        .is_empty());
}
