//! Prototypical Networks on BANKING77 with MiniLM's last transformer layer fine-tuned through
//! core's autodiff, against the frozen encoder's untrained nearest prototype on the same
//! held-out episodes.
//!
//! ```text
//! cargo run --release -p autodidact-envs --example minilm_finetune -- \
//!     [--model DIR] [--data CSV,CSV] [--episodes 300] [--train-ways 10] [--shots 5] \
//!     [--queries 5] [--lr 3e-5] [--scale 10] [--eval-episodes 600] [--group 25] [--seed 0]
//! ```
//!
//! The intents are split as the `intents` environment splits them for a run with this seed
//! (`Intents::load_data` with the environment's seed, `Seed(seed).derive("env")`; the defaults:
//! 46 training, 15 validation, 16 test intents), so "held-out" means the same 16 intents as
//! `bench/metric`'s runs. Layers 0 to 4 run once per text on the no-grad inference path and
//! their outputs are kept; each training episode runs only layer 5 and the pooling on the tape
//! (its texts in groups of `--group` similar lengths, so little padding), and Adam updates
//! layer 5 alone. Evaluation embeds every text of the test intents with the
//! current weights and scores the same episodes (fixed seed) before training (the frozen
//! encoder: exactly its sentence embeddings) and after: 5-way 1-shot, 5-way 5-shot, 10-way
//! 5-shot, 10 queries per class, nearest prototype by Euclidean distance between
//! L2-normalised embeddings, mean accuracy with its 95 % interval, and the paired gain.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use autodidact_core::layers::bert::{l2_normalize, mean_pool, Bert, BertBatch};
use autodidact_core::ndarray::ArrayD;
use autodidact_core::{
    cross_entropy, grad, mean_ci95, no_grad, Adam, CreateGraph, Optimizer, Params, Rng, Seed, Tape,
    Var,
};
use autodidact_envs::intents::read_csv_bytes;
use autodidact_envs::{Intents, IntentsParams, SentenceEncoder};
use rand::seq::IndexedRandom;

type Error = Box<dyn std::error::Error>;

struct Args {
    model: String,
    data: Vec<String>,
    episodes: usize,
    train_ways: usize,
    shots: usize,
    queries: usize,
    lr: f64,
    scale: f64,
    eval_episodes: usize,
    group: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        model: "../shared/data/minilm".into(),
        data: vec![
            "../shared/data/banking77/train.csv".into(),
            "../shared/data/banking77/test.csv".into(),
        ],
        episodes: 300,
        train_ways: 10,
        shots: 5,
        queries: 5,
        lr: 3e-5,
        scale: 10.0,
        eval_episodes: 600,
        group: 25,
        seed: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let (k, v) = match pair {
            [k, v] => (k.as_str(), v.as_str()),
            _ => return Err(format!("`{}` has no value", pair[0]).into()),
        };
        match k {
            "--model" => a.model = v.into(),
            "--data" => a.data = v.split(',').map(String::from).collect(),
            "--episodes" => a.episodes = v.parse()?,
            "--train-ways" => a.train_ways = v.parse()?,
            "--shots" => a.shots = v.parse()?,
            "--queries" => a.queries = v.parse()?,
            "--lr" => a.lr = v.parse()?,
            "--scale" => a.scale = v.parse()?,
            "--eval-episodes" => a.eval_episodes = v.parse()?,
            "--group" => a.group = v.parse()?,
            "--seed" => a.seed = v.parse()?,
            _ => return Err(format!("unknown option `{k}`").into()),
        }
    }
    Ok(a)
}

/// Texts and their token ids, with the layer-4 hidden states `[tokens, hidden]` of each.
struct Corpus {
    tokens: Vec<Vec<u32>>,
    frozen: Vec<Vec<f32>>,
}

/// The first `layers` layers of every text, 32 at a time in order of length (little padding).
fn run_frozen(
    enc: &SentenceEncoder,
    tokens: Vec<Vec<u32>>,
    layers: usize,
) -> Result<Corpus, Error> {
    let bert = enc.bert();
    let h = bert.config.hidden_size;
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| tokens[i].len());
    let mut frozen = vec![Vec::new(); tokens.len()];
    for chunk in order.chunks(32) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| tokens[i].clone()).collect();
        let batch = BertBatch::new(&seqs, &bert.config)?;
        let states = bert.hidden_states(enc.params(), &batch, layers);
        let flat = states.as_slice().ok_or("hidden states not contiguous")?;
        for (r, &i) in chunk.iter().enumerate() {
            let len = tokens[i].len();
            frozen[i] = flat[r * batch.seq * h..][..len * h].to_vec();
        }
    }
    Ok(Corpus { tokens, frozen })
}

/// The padded batch of some texts and their frozen states `[batch, seq, hidden]`.
fn episode_batch(
    bert: &Bert,
    corpus: &Corpus,
    texts: &[usize],
) -> Result<(BertBatch, ArrayD<f32>), Error> {
    let h = bert.config.hidden_size;
    let seqs: Vec<Vec<u32>> = texts.iter().map(|&i| corpus.tokens[i].clone()).collect();
    let batch = BertBatch::new(&seqs, &bert.config)?;
    let mut states = vec![0.0f32; batch.batch * batch.seq * h];
    for (r, &i) in texts.iter().enumerate() {
        let f = &corpus.frozen[i];
        states[r * batch.seq * h..][..f.len()].copy_from_slice(f);
    }
    let states = ArrayD::from_shape_vec(vec![batch.batch, batch.seq, h], states)?;
    Ok((batch, states))
}

/// The variables of the model's parameters for a forward from the last layer: the trainable
/// store's tensors (as parameters when `tape` is given, else constants) at their indices in the
/// full store; every other index (never read from the last layer) is an empty placeholder.
fn last_layer_vars(
    full_len: usize,
    index: &[usize],
    train: &Params<f32>,
    tape: Option<&Tape<f32>>,
) -> Vec<Var<f32>> {
    let mut p: Vec<Var<f32>> = (0..full_len).map(|_| Var::zeros(&[0])).collect();
    for (j, &i) in index.iter().enumerate() {
        let t = &train.tensors()[j];
        p[i] = match tape {
            Some(tape) => tape.param(t),
            None => Var::constant_from(t),
        };
    }
    p
}

/// Sentence embeddings (L2-normalised mean pooling) of some texts from their frozen states.
fn embed(bert: &Bert, p: &[Var<f32>], batch: &BertBatch, states: ArrayD<f32>) -> Var<f32> {
    let layers = bert.layers.len() - 1;
    let h = bert.forward_from_layer(p, Var::constant(states), batch, layers);
    l2_normalize(mean_pool(h, batch.mask_var()))
}

/// Sentence embeddings of an episode's texts, rows in the order of `ids`: the texts run in
/// groups of at most `group` similar lengths (each padded to its own longest, not the
/// episode's), then the rows are put back in order.
fn embed_episode(
    bert: &Bert,
    corpus: &Corpus,
    p: &[Var<f32>],
    ids: &[usize],
    group: usize,
) -> Result<Var<f32>, Error> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&k| corpus.tokens[ids[k]].len());
    let mut parts = Vec::new();
    for chunk in order.chunks(group.max(1)) {
        let sub: Vec<usize> = chunk.iter().map(|&k| ids[k]).collect();
        let (batch, states) = episode_batch(bert, corpus, &sub)?;
        parts.push(embed(bert, p, &batch, states));
    }
    let mut row_of = vec![0; ids.len()];
    for (r, &k) in order.iter().enumerate() {
        row_of[k] = r;
    }
    Ok(Var::concat(&parts, 0).index_select(&row_of))
}

/// Prototypical Networks' loss: texts laid out class by class (shots, then queries).
fn proto_loss(emb: Var<f32>, ways: usize, shots: usize, queries: usize, scale: f64) -> Var<f32> {
    let per = shots + queries;
    let d = emb.shape()[1];
    let support: Vec<usize> = (0..ways)
        .flat_map(|c| (0..shots).map(move |s| c * per + s))
        .collect();
    let query: Vec<usize> = (0..ways)
        .flat_map(|c| (0..queries).map(move |q| c * per + shots + q))
        .collect();
    let protos = emb
        .index_select(&support)
        .reshape(&[ways, shots, d])
        .mean_axes(&[1], false);
    let q = emb.index_select(&query);
    let dist = q.square().sum_axes(&[1], true)
        + protos.square().sum_axes(&[1], true).reshape(&[1, ways])
        - q.matmul_nt(protos) * 2.0;
    let labels: Vec<usize> = (0..ways).flat_map(|c| vec![c; queries]).collect();
    cross_entropy(dist * -scale, &labels)
}

/// `ways` classes of `classes`, and `per` texts of each (without replacement), class by class.
fn sample_episode(
    by_class: &[Vec<usize>],
    classes: &[usize],
    ways: usize,
    per: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let chosen: Vec<usize> = classes.choose_multiple(rng, ways).copied().collect();
    chosen
        .iter()
        .flat_map(|&c| {
            by_class[c]
                .choose_multiple(rng, per)
                .copied()
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Embeddings `[texts, hidden]` (rows of `texts`) with the current last layer, no tape.
fn embed_all(
    bert: &Bert,
    corpus: &Corpus,
    texts: &[usize],
    index: &[usize],
    train: &Params<f32>,
    full_len: usize,
) -> Result<Vec<Vec<f32>>, Error> {
    let mut out = vec![Vec::new(); texts.len()];
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&k| corpus.tokens[texts[k]].len());
    let _tape = Tape::<f32>::new();
    no_grad(|| -> Result<(), Error> {
        let p = last_layer_vars(full_len, index, train, None);
        for chunk in order.chunks(64) {
            let _scope = Tape::<f32>::new();
            let ids: Vec<usize> = chunk.iter().map(|&k| texts[k]).collect();
            let (batch, states) = episode_batch(bert, corpus, &ids)?;
            let e = embed(bert, &p, &batch, states).value();
            for (r, &k) in chunk.iter().enumerate() {
                out[k] = e
                    .index_axis(autodidact_core::ndarray::Axis(0), r)
                    .iter()
                    .copied()
                    .collect();
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Accuracy of the nearest prototype (squared Euclidean) on each episode.
fn nearest_prototype(
    emb: &BTreeMap<usize, Vec<f32>>,
    episodes: &[(Vec<usize>, usize, usize, usize)],
) -> Vec<f64> {
    let dist =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
    episodes
        .iter()
        .map(|(texts, ways, shots, queries)| {
            let per = shots + queries;
            let d = emb[&texts[0]].len();
            let protos: Vec<Vec<f32>> = (0..*ways)
                .map(|c| {
                    let mut m = vec![0.0f32; d];
                    for s in 0..*shots {
                        for (a, v) in m.iter_mut().zip(&emb[&texts[c * per + s]]) {
                            *a += v / *shots as f32;
                        }
                    }
                    m
                })
                .collect();
            let mut right = 0;
            for c in 0..*ways {
                for q in 0..*queries {
                    let e = &emb[&texts[c * per + shots + q]];
                    let best = (0..*ways)
                        .min_by(|&a, &b| dist(e, &protos[a]).total_cmp(&dist(e, &protos[b])))
                        .unwrap_or(0);
                    right += usize::from(best == c);
                }
            }
            right as f64 / (ways * queries) as f64
        })
        .collect()
}

fn main() -> Result<(), Error> {
    let a = parse_args()?;
    let start = Instant::now();
    // The environment's split for this seed (hashed n-grams: the cheapest featuriser; only the
    // split and the class order are used).
    let env_params = IntentsParams {
        data_dir: a.data.clone().into(),
        ..IntentsParams::default()
    };
    let env = Intents::load_data(&env_params, Seed(a.seed).derive("env"))?;
    // The texts of each class in the environment's order (labels sorted, rows in file order).
    let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &a.data {
        let bytes = std::fs::read(f)?;
        for row in read_csv_bytes(&bytes, f, "text", "")? {
            by_label.entry(row.label).or_default().push(row.text);
        }
    }
    let same = by_label.len() == env.data.num_classes()
        && by_label
            .values()
            .enumerate()
            .all(|(c, ts)| env.data.class(c).len() == ts.len());
    if !same {
        return Err("the CSV files' intents differ from the environment's".into());
    }
    let splits = env.splits;
    println!(
        "intents: {} train, {} validation, {} test (held out)",
        splits.train.len(),
        splits.validation.len(),
        splits.test.len()
    );
    let enc = SentenceEncoder::load(Path::new(&a.model))?;
    let bert = enc.bert().clone();
    let layers = bert.layers.len() - 1;
    // Only the training and test intents' texts are needed.
    let mut texts: Vec<&str> = Vec::new();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); by_label.len()];
    for (c, ts) in by_label.values().enumerate() {
        if splits.train.contains(&c) || splits.test.contains(&c) {
            for t in ts {
                by_class[c].push(texts.len());
                texts.push(t);
            }
        }
    }
    let tokens: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| enc.tokenize(t))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let corpus = run_frozen(&enc, tokens, layers)?;
    println!(
        "layers 0..{} of {} texts (no grad, once): {:.1} s",
        layers - 1,
        texts.len(),
        t.elapsed().as_secs_f64()
    );
    // The trainable store: the last layer's tensors, by their full-store indices.
    let index = bert.last_layers_params(1);
    let full_len = enc.params().len();
    let mut train = Params::<f32>::new();
    for &i in &index {
        train.insert(
            enc.params().names()[i].clone(),
            enc.params().tensors()[i].clone(),
        );
    }
    println!(
        "trainable: {} tensors, {} weights (layer {layers})",
        train.len(),
        train.tensors().iter().map(|t| t.len()).sum::<usize>()
    );
    // Evaluation episodes, fixed before training.
    let mut eval_rng = Seed(a.seed).derive("finetune-eval").rng("episodes");
    let settings = [(5usize, 1usize), (5, 5), (10, 5)];
    let eval_queries = 10;
    let episodes: Vec<Vec<(Vec<usize>, usize, usize, usize)>> = settings
        .iter()
        .map(|&(w, s)| {
            (0..a.eval_episodes)
                .map(|_| {
                    let texts =
                        sample_episode(&by_class, &splits.test, w, s + eval_queries, &mut eval_rng);
                    (texts, w, s, eval_queries)
                })
                .collect()
        })
        .collect();
    let test_texts: Vec<usize> = splits
        .test
        .iter()
        .flat_map(|&c| by_class[c].clone())
        .collect();
    let evaluate = |train: &Params<f32>| -> Result<Vec<Vec<f64>>, Error> {
        let e = embed_all(&bert, &corpus, &test_texts, &index, train, full_len)?;
        let emb: BTreeMap<usize, Vec<f32>> = test_texts.iter().copied().zip(e).collect();
        Ok(episodes
            .iter()
            .map(|eps| nearest_prototype(&emb, eps))
            .collect())
    };
    let t = Instant::now();
    let before = evaluate(&train)?;
    // The split path must give the frozen encoder's own embeddings.
    let probe: Vec<&str> = test_texts.iter().take(8).map(|&i| texts[i]).collect();
    let direct = enc.encode(&probe, 8)?;
    let split = embed_all(
        &bert,
        &corpus,
        &test_texts[..probe.len()],
        &index,
        &train,
        full_len,
    )?;
    let worst = split
        .iter()
        .enumerate()
        .flat_map(|(r, e)| e.iter().enumerate().map(move |(c, &v)| (r, c, v)))
        .map(|(r, c, v)| (v - direct[[r, c]]).abs())
        .fold(0.0f32, f32::max);
    println!(
        "untrained evaluation: {:.1} s; split path vs the encoder: max |diff| {worst:.1e}",
        t.elapsed().as_secs_f64()
    );
    // Meta-training on the training intents.
    let mut opt = Adam::<f32>::new(a.lr);
    let mut rng = Seed(a.seed).derive("finetune-train").rng("episodes");
    let t = Instant::now();
    let mut window = Vec::new();
    for ep in 0..a.episodes {
        let ids = sample_episode(
            &by_class,
            &splits.train,
            a.train_ways,
            a.shots + a.queries,
            &mut rng,
        );
        let tape = Tape::<f32>::new();
        let p = last_layer_vars(full_len, &index, &train, Some(&tape));
        let emb = embed_episode(&bert, &corpus, &p, &ids, a.group)?;
        let loss = proto_loss(emb, a.train_ways, a.shots, a.queries, a.scale);
        let vars: Vec<Var<f32>> = index.iter().map(|&i| p[i]).collect();
        let g = grad(&[loss], &vars, CreateGraph::No);
        window.push(loss.item());
        opt.step_vars(&mut train, &g)?;
        drop(tape);
        if (ep + 1) % 50 == 0 || ep + 1 == a.episodes {
            println!(
                "episode {:>4}: mean loss of the last {} = {:.4} ({:.1} s)",
                ep + 1,
                window.len(),
                window.iter().sum::<f64>() / window.len() as f64,
                t.elapsed().as_secs_f64()
            );
            window.clear();
        }
    }
    let train_secs = t.elapsed().as_secs_f64();
    let after = evaluate(&train)?;
    println!(
        "\nheld-out intents, {} episodes each, {eval_queries} queries per class (mean % and 95 % interval):",
        a.eval_episodes
    );
    println!("| setting | frozen encoder, nearest prototype | last layer fine-tuned (ProtoNet) | paired gain |");
    println!("| --- | --- | --- | --- |");
    for (k, &(w, s)) in settings.iter().enumerate() {
        let (m0, c0) = mean_ci95(&before[k]);
        let (m1, c1) = mean_ci95(&after[k]);
        let diff: Vec<f64> = after[k]
            .iter()
            .zip(&before[k])
            .map(|(x, y)| x - y)
            .collect();
        let (md, cd) = mean_ci95(&diff);
        println!(
            "| {w}-way {s}-shot | {:.2} ± {:.2} | {:.2} ± {:.2} | {:+.2} ± {:.2} |",
            100.0 * m0,
            100.0 * c0,
            100.0 * m1,
            100.0 * c1,
            100.0 * md,
            100.0 * cd
        );
    }
    println!(
        "\ntraining: {} episodes of {}-way {}-shot {}-query, Adam {}, scale {}: {train_secs:.1} s; total {:.1} s",
        a.episodes,
        a.train_ways,
        a.shots,
        a.queries,
        a.lr,
        a.scale,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
