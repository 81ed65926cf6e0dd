//! BERT on the tape: attention with a padding mask, GELU, layer norm and a tiny random BERT
//! (2 layers, hidden 8, 2 heads, vocabulary 20) against finite differences (first and second
//! order, f64), and the tiny BERT's output against a hand-written forward in plain loops.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_range_loop,
    clippy::cloned_ref_to_slice_refs
)]

use autodidact_core::layers::bert::{load, Bert, BertBatch, BertConfig};
use autodidact_core::ndarray::{Array2, ArrayD, IxDyn};
use autodidact_core::testing::{gradcheck, gradgradcheck, GradcheckOptions};
use autodidact_core::*;
use rand::{Rng as _, SeedableRng};

fn tiny() -> (BertConfig, Bert, Params<f64>) {
    let config = BertConfig::tiny(2, 8, 2, 20);
    let mut params = Params::<f64>::new();
    let bert = Bert::new(&mut params, &config, &mut Seed(3).rng("init"));
    // Random (not 1 / 0) layer norms and larger weights, so every path carries signal.
    let mut rng = Rng::seed_from_u64(11);
    for (name, t) in params.names().to_vec().iter().zip(params.tensors_mut()) {
        let scale = if name.contains("LayerNorm") { 0.3 } else { 0.4 };
        let base = if name.ends_with("LayerNorm.weight") {
            1.0
        } else {
            0.0
        };
        t.mapv_inplace(|_| base + scale * rng.random_range(-1.0..1.0));
    }
    (config, bert, params)
}

fn batch(config: &BertConfig) -> BertBatch {
    // Different lengths: the second and third sequences are padded.
    BertBatch::new(&[vec![1, 5, 7, 2], vec![1, 9, 2], vec![1, 2]], config).unwrap()
}

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-5,
        atol: 1e-6,
        rtol: 1e-4,
        max_elements: Some(12),
    }
}

fn rand_tensor(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

#[test]
fn attention_with_mask_gradients() {
    let (config, bert, params) = tiny();
    let b = batch(&config);
    let attn = bert.layers[0].attention.clone();
    let idx = attn.param_indices();
    let mut inputs = vec![rand_tensor(&[b.batch, b.seq, 8], 4)];
    inputs.extend(idx.iter().map(|&i| params.tensors()[i].clone()));
    let f = |v: &[Var<f64>]| {
        let mut p: Vec<Var<f64>> = params
            .tensors()
            .iter()
            .map(|t| Var::constant(t.clone()))
            .collect();
        for (k, &i) in idx.iter().enumerate() {
            p[i] = v[k + 1];
        }
        attn.forward(&p, v[0], b.additive_mask())
    };
    gradcheck("attention (masked)", f, &inputs, &opts()).unwrap();
    gradgradcheck("attention (masked)", f, &inputs, &opts()).unwrap();
}

#[test]
fn layer_norm_and_gelu_gradients() {
    let x = rand_tensor(&[3, 2, 5], 7).mapv(|v| 3.0 * v);
    let g = rand_tensor(&[5], 8);
    let bta = rand_tensor(&[5], 9);
    let ln = |v: &[Var<f64>]| layer_norm(v[0], v[1], v[2], 1e-12);
    let inputs = [x.clone(), g, bta];
    gradcheck("layer_norm", ln, &inputs, &opts()).unwrap();
    gradgradcheck("layer_norm", ln, &inputs, &opts()).unwrap();
    gradcheck("gelu", |v| v[0].gelu(), &[x.clone()], &opts()).unwrap();
    gradgradcheck("gelu", |v| v[0].gelu(), &[x], &opts()).unwrap();
}

#[test]
fn tiny_bert_gradients_first_and_second_order() {
    let (config, bert, params) = tiny();
    let b = batch(&config);
    let f = |v: &[Var<f64>]| bert.sentence_embeddings(v, &b, true);
    gradcheck("tiny bert", f, params.tensors(), &opts()).unwrap();
    let o = GradcheckOptions {
        max_elements: Some(4),
        ..opts()
    };
    gradgradcheck("tiny bert", f, params.tensors(), &o).unwrap();
}

/// A plain-loop BERT forward over the store's tensors (by name), masked keys skipped outright
/// rather than through an additive mask; returns the mean-pooled, normalised embeddings.
fn reference_forward(
    config: &BertConfig,
    params: &Params<f64>,
    seqs: &[Vec<u32>],
) -> Vec<Vec<f64>> {
    let get = |name: &str| params.get(name).unwrap().clone();
    let h = config.hidden_size;
    let heads = config.num_attention_heads;
    let d = h / heads;
    let eps = config.layer_norm_eps;
    let ln = |x: &mut [f64], gname: &str| {
        let g = get(&format!("{gname}.weight"));
        let bb = get(&format!("{gname}.bias"));
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
        for (i, v) in x.iter_mut().enumerate() {
            *v = (*v - mean) / (var + eps).sqrt() * g[[i]] + bb[[i]];
        }
    };
    let linear = |x: &[f64], name: &str| -> Vec<f64> {
        let w = get(&format!("{name}.weight")); // [in, out]
        let bias = get(&format!("{name}.bias"));
        let out = w.shape()[1];
        (0..out)
            .map(|j| bias[[j]] + (0..x.len()).map(|i| x[i] * w[[i, j]]).sum::<f64>())
            .collect()
    };
    let mut result = Vec::new();
    for s in seqs {
        let n = s.len();
        let (we, pe, te) = (
            get("embeddings.word_embeddings.weight"),
            get("embeddings.position_embeddings.weight"),
            get("embeddings.token_type_embeddings.weight"),
        );
        let mut x = Array2::<f64>::zeros((n, h));
        for t in 0..n {
            let mut row: Vec<f64> = (0..h)
                .map(|k| we[[s[t] as usize, k]] + pe[[t, k]] + te[[0, k]])
                .collect();
            ln(&mut row, "embeddings.LayerNorm");
            for k in 0..h {
                x[[t, k]] = row[k];
            }
        }
        for l in 0..config.num_hidden_layers {
            let pre = format!("encoder.layer.{l}");
            let rows = |m: &Array2<f64>, name: &str| -> Vec<Vec<f64>> {
                (0..n)
                    .map(|t| linear(m.row(t).as_slice().unwrap(), name))
                    .collect()
            };
            let q = rows(&x, &format!("{pre}.attention.self.query"));
            let k = rows(&x, &format!("{pre}.attention.self.key"));
            let v = rows(&x, &format!("{pre}.attention.self.value"));
            let mut ctx = Array2::<f64>::zeros((n, h));
            for hd in 0..heads {
                for i in 0..n {
                    let scores: Vec<f64> = (0..n)
                        .map(|j| {
                            (0..d)
                                .map(|c| q[i][hd * d + c] * k[j][hd * d + c])
                                .sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for c in 0..d {
                        ctx[[i, hd * d + c]] = (0..n).map(|j| e[j] / z * v[j][hd * d + c]).sum();
                    }
                }
            }
            let mut a = Array2::<f64>::zeros((n, h));
            for t in 0..n {
                let mut row = linear(
                    ctx.row(t).as_slice().unwrap(),
                    &format!("{pre}.attention.output.dense"),
                );
                for c in 0..h {
                    row[c] += x[[t, c]];
                }
                ln(&mut row, &format!("{pre}.attention.output.LayerNorm"));
                for c in 0..h {
                    a[[t, c]] = row[c];
                }
            }
            for t in 0..n {
                let inter: Vec<f64> = linear(
                    a.row(t).as_slice().unwrap(),
                    &format!("{pre}.intermediate.dense"),
                )
                .into_iter()
                .map(|u| 0.5 * u * (1.0 + libm::erf(u / 2f64.sqrt())))
                .collect();
                let mut row = linear(&inter, &format!("{pre}.output.dense"));
                for c in 0..h {
                    row[c] += a[[t, c]];
                }
                ln(&mut row, &format!("{pre}.output.LayerNorm"));
                for c in 0..h {
                    x[[t, c]] = row[c];
                }
            }
        }
        let mut pooled: Vec<f64> = (0..h)
            .map(|c| (0..n).map(|t| x[[t, c]]).sum::<f64>() / n as f64)
            .collect();
        let norm = pooled.iter().map(|v| v * v).sum::<f64>().sqrt();
        pooled.iter_mut().for_each(|v| *v /= norm);
        result.push(pooled);
    }
    result
}

#[test]
fn tiny_bert_matches_a_hand_written_forward_with_and_without_padding() {
    let (config, bert, params) = tiny();
    let seqs = vec![
        vec![1, 5, 7, 2],
        vec![1, 9, 2],
        vec![1, 2],
        vec![3, 19, 4, 4, 6, 2],
    ];
    let want = reference_forward(&config, &params, &seqs);
    let b = BertBatch::new(&seqs, &config).unwrap();
    let tape = Tape::<f64>::new();
    let p = tape.params(&params);
    let got = bert.sentence_embeddings(&p, &b, true).value();
    let fast = bert.encode(&params, &[b.clone()], true).remove(0);
    // One sequence per batch (no padding) through the fast path.
    let singles = bert.encode(
        &params,
        &seqs
            .iter()
            .map(|s| BertBatch::new(&[s.clone()], &config).unwrap())
            .collect::<Vec<_>>(),
        true,
    );
    for (i, w) in want.iter().enumerate() {
        for c in 0..config.hidden_size {
            assert!(
                (got[[i, c]] - w[c]).abs() < 1e-12,
                "seq {i} dim {c}: {} vs {}",
                got[[i, c]],
                w[c]
            );
            assert!((fast[[i, c]] - w[c]).abs() < 1e-12, "fast seq {i} dim {c}");
            assert!(
                (singles[i][[0, c]] - w[c]).abs() < 1e-12,
                "single seq {i} dim {c}"
            );
        }
    }
    // And f32 agrees with f64 to float precision.
    let p32 = params.cast::<f32>();
    let got32 = bert.encode(&p32, &[b], true).remove(0);
    for (x, y) in got32.iter().zip(fast.iter()) {
        assert!((f64::from(*x) - y).abs() < 1e-5);
    }
}

#[test]
fn batches_refuse_bad_ids_and_long_sequences() {
    let config = BertConfig::tiny(1, 8, 2, 20);
    let e = BertBatch::new(&[vec![1, 20]], &config)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("token id 20") && e.contains("vocabulary of 20"),
        "{e}"
    );
    let long = vec![1u32; 17];
    let e = BertBatch::new(&[long], &config).unwrap_err().to_string();
    assert!(e.contains("17 tokens") && e.contains("16 positions"), "{e}");
}

#[test]
fn config_json_errors_name_the_file_and_key() {
    let ok = r#"{"model_type":"bert","vocab_size":20,"hidden_size":8,"num_hidden_layers":2,
        "num_attention_heads":2,"intermediate_size":16,"hidden_act":"gelu","extra":[1]}"#;
    let c = BertConfig::from_json(ok, "cfg.json").unwrap();
    assert_eq!(
        (c.hidden_size, c.max_position_embeddings, c.layer_norm_eps),
        (8, 512, 1e-12)
    );
    for (text, key) in [
        (
            ok.replace("\"hidden_size\":8,", ""),
            "`hidden_size` is missing",
        ),
        (
            ok.replace("\"hidden_size\":8", "\"hidden_size\":\"8\""),
            "`hidden_size` must be a whole number",
        ),
        (
            ok.replace("\"hidden_size\":8", "\"hidden_size\":9"),
            "`hidden_size` (9) must be a multiple",
        ),
        (ok.replace("\"gelu\"", "\"relu\""), "`hidden_act` is `relu`"),
        (ok.replace("\"bert\"", "\"gpt2\""), "`model_type`"),
        ("[1]".to_string(), "JSON object"),
        ("{".to_string(), "not valid JSON"),
    ] {
        let e = BertConfig::from_json(&text, "cfg.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cfg.json: ") && e.contains(key), "{e}");
    }
}

/// Writes a safetensors file of the tiny model in PyTorch's layout (linear weights
/// `[out, in]`), optionally renaming, reshaping or retyping one tensor.
fn tiny_file(params: &Params<f64>, prefix: &str, tweak: Option<(&str, &str)>) -> Vec<u8> {
    use safetensors::{serialize, Dtype, View};
    use std::borrow::Cow;
    struct T(Dtype, Vec<usize>, Vec<u8>);
    impl View for &T {
        fn dtype(&self) -> Dtype {
            self.0
        }
        fn shape(&self) -> &[usize] {
            &self.1
        }
        fn data(&self) -> Cow<'_, [u8]> {
            Cow::Borrowed(&self.2)
        }
        fn data_len(&self) -> usize {
            self.2.len()
        }
    }
    let mut tensors = Vec::new();
    for (name, t) in params.names().iter().zip(params.tensors()) {
        let linear = t.ndim() == 2 && !name.contains("embeddings");
        let t = if linear {
            t.t().as_standard_layout().into_owned()
        } else {
            t.clone()
        };
        let mut shape = t.shape().to_vec();
        let mut dtype = Dtype::F32;
        let mut key = format!("{prefix}{name}");
        if let Some((which, how)) = tweak {
            if name == which {
                match how {
                    "drop" => continue,
                    "shape" => shape[0] += 1,
                    "dtype" => dtype = Dtype::I32,
                    _ => key = format!("{key}.renamed"),
                }
            }
        }
        let mut bytes: Vec<u8> = t.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect();
        if how_shape(tweak, name) {
            bytes.extend(std::iter::repeat_n(
                0u8,
                4 * t.shape()[1..].iter().product::<usize>(),
            ));
        }
        tensors.push((key, T(dtype, shape, bytes)));
    }
    tensors.push((
        "pooler.dense.bias".into(),
        T(Dtype::F32, vec![1], vec![0; 4]),
    ));
    serialize(tensors.iter().map(|(k, t)| (k.clone(), t)), None).unwrap()
}

fn how_shape(tweak: Option<(&str, &str)>, name: &str) -> bool {
    matches!(tweak, Some((w, "shape")) if w == name)
}

#[test]
fn safetensors_loading_by_published_names_and_its_errors() {
    let (config, bert, params) = tiny();
    let p32 = params.cast::<f32>().cast::<f64>();
    for prefix in ["", "bert."] {
        let bytes = tiny_file(&params, prefix, None);
        let (loaded_bert, loaded) =
            load::load_safetensors_bytes::<f64>(&bytes, "m.safetensors", &config).unwrap();
        assert_eq!(loaded_bert, bert);
        assert_eq!(loaded.names(), params.names());
        assert_eq!(loaded.tensors(), p32.tensors());
    }
    // Saving writes the same file layout back.
    let saved = load::to_safetensors_bytes(&bert, &params).unwrap();
    let (_, reloaded) =
        load::load_safetensors_bytes::<f64>(&saved, "s.safetensors", &config).unwrap();
    assert_eq!(reloaded.tensors(), p32.tensors());
    let q = "encoder.layer.1.attention.self.query.weight";
    for (how, want) in [
        ("drop", format!("tensor `{q}` is missing")),
        (
            "shape",
            format!("tensor `{q}` has shape [9, 8], expected [8, 8]"),
        ),
        ("dtype", format!("tensor `{q}` has dtype I32")),
    ] {
        let bytes = tiny_file(&params, "", Some((q, how)));
        let e = load::load_safetensors_bytes::<f32>(&bytes, "m.safetensors", &config)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.safetensors: ") && e.contains(&want),
            "{how}: {e}"
        );
    }
    let e = load::load_safetensors_bytes::<f32>(b"not a file", "m.safetensors", &config)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.safetensors: not a readable safetensors file"),
        "{e}"
    );
    let e =
        load::load_safetensors::<f32>(std::path::Path::new("/nonexistent/m.safetensors"), &config)
            .unwrap_err()
            .to_string();
    assert!(e.contains("/nonexistent/m.safetensors"), "{e}");
}

/// Fine-tuning works: the last encoder layer unfrozen with a linear head on the pooled
/// embeddings learns a toy task (which of two marker tokens a sequence holds) while the lower
/// layers and the embeddings stay exactly as they were.
#[test]
fn last_layer_and_head_fine_tune_while_the_rest_stays_frozen() {
    let config = BertConfig::tiny(2, 8, 2, 20);
    let mut params = Params::<f64>::new();
    let mut rng = Seed(21).rng("init");
    let bert = Bert::new(&mut params, &config, &mut rng);
    let head = Linear::new(
        &mut params,
        "head",
        8,
        2,
        true,
        Init::XavierUniform,
        &mut rng,
    );
    let mut data_rng = Seed(22).rng("data");
    let mut seqs = Vec::new();
    let mut labels = Vec::new();
    for i in 0..16 {
        let marker = if i % 2 == 0 { 5 } else { 9 };
        let len = 3 + i % 4;
        let mut s: Vec<u32> = (0..len).map(|_| data_rng.random_range(10..20)).collect();
        s[data_rng.random_range(0..len)] = marker;
        s.insert(0, 1);
        s.push(2);
        seqs.push(s);
        labels.push(i % 2);
    }
    let batch = BertBatch::new(&seqs, &config).unwrap();
    let mut trainable = bert.last_layers_params(1);
    trainable.push(head.weight);
    trainable.extend(head.bias);
    let frozen_before = params.clone();
    let loss_at = |params: &Params<f64>, step: bool| -> (f64, Vec<ArrayD<f64>>) {
        let tape = Tape::<f64>::new();
        let p: Vec<Var<f64>> = params
            .tensors()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if trainable.contains(&i) {
                    tape.param(t)
                } else {
                    tape.constant_from(t)
                }
            })
            .collect();
        let logits = head.forward(&p, bert.sentence_embeddings(&p, &batch, false));
        let loss = cross_entropy(logits, &labels);
        let grads = if step {
            let vars: Vec<Var<f64>> = trainable.iter().map(|&i| p[i]).collect();
            grad(&[loss], &vars, CreateGraph::No)
                .iter()
                .map(|g| g.value())
                .collect()
        } else {
            Vec::new()
        };
        (loss.item(), grads)
    };
    let (first, _) = loss_at(&params, false);
    for _ in 0..300 {
        let (_, g) = loss_at(&params, true);
        for (&i, gi) in trainable.iter().zip(g) {
            let t = &mut params.tensors_mut()[i];
            *t = &*t - &(gi * 0.5);
        }
    }
    let (last, _) = loss_at(&params, false);
    assert!(last < 0.1 * first, "loss {first} -> {last}");
    for (i, (a, b)) in params
        .tensors()
        .iter()
        .zip(frozen_before.tensors())
        .enumerate()
    {
        if trainable.contains(&i) {
            assert_ne!(a, b, "{} was not trained", params.names()[i]);
        } else {
            assert_eq!(a, b, "{} moved while frozen", params.names()[i]);
        }
    }
}

/// Prototypical Networks' loss on sentence embeddings `[ways·(shots + queries), d]` laid out
/// class by class (each class: its shots, then its queries): squared distances of the queries to
/// the class means of the shots, scaled, as logits.
fn proto_loss(emb: Var<f64>, ways: usize, shots: usize, queries: usize, scale: f64) -> Var<f64> {
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

#[test]
fn protonet_on_the_last_layer_over_frozen_cached_layers() {
    let config = BertConfig::tiny(2, 8, 2, 20);
    let mut params = Params::<f64>::new();
    let bert = Bert::new(&mut params, &config, &mut Seed(31).rng("init"));
    // A 2-way 3-shot 3-query episode: class 0 carries token 5, class 1 token 9, in random
    // filler of different lengths (so the batch is padded).
    let (ways, shots, queries) = (2, 3, 3);
    let mut data_rng = Seed(32).rng("data");
    let mut seqs = Vec::new();
    for c in 0..ways {
        for i in 0..shots + queries {
            let len = 2 + (i + c) % 4;
            let mut s: Vec<u32> = (0..len).map(|_| data_rng.random_range(10..20)).collect();
            s[data_rng.random_range(0..len)] = if c == 0 { 5 } else { 9 };
            s.insert(0, 1);
            s.push(2);
            seqs.push(s);
        }
    }
    let batch = BertBatch::new(&seqs, &config).unwrap();
    // The frozen first layer runs once, off the tape; the last continues from it on the tape.
    let frozen = bert.hidden_states(&params, &batch, 1);
    assert_eq!(frozen.shape(), &[batch.batch, batch.seq, 8]);
    {
        let tape = Tape::<f64>::new();
        let p = tape.params(&params);
        let full = bert.forward(&p, &batch).value();
        let split = bert
            .forward_from_layer(&p, Var::constant(frozen.clone()), &batch, 1)
            .value();
        for r in 0..batch.batch {
            for j in 0..batch.seq {
                if batch.mask[r * batch.seq + j] == 0 {
                    continue;
                }
                for c in 0..8 {
                    let (a, b) = (full[[r, j, c]], split[[r, j, c]]);
                    assert!(
                        (a - b).abs() < 1e-12,
                        "row {r} token {j} dim {c}: {a} vs {b}"
                    );
                }
            }
        }
    }
    let trainable = bert.last_layers_params(1);
    let loss_at = |params: &Params<f64>| -> (f64, Vec<ArrayD<f64>>) {
        let tape = Tape::<f64>::new();
        let p: Vec<Var<f64>> = params
            .tensors()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if trainable.contains(&i) {
                    tape.param(t)
                } else {
                    tape.constant_from(t)
                }
            })
            .collect();
        let h = bert.forward_from_layer(&p, Var::constant(frozen.clone()), &batch, 1);
        let emb = layers::bert::l2_normalize(layers::bert::mean_pool(h, batch.mask_var()));
        let loss = proto_loss(emb, ways, shots, queries, 10.0);
        let vars: Vec<Var<f64>> = trainable.iter().map(|&i| p[i]).collect();
        let g = grad(&[loss], &vars, CreateGraph::No)
            .iter()
            .map(|g| g.value())
            .collect();
        (loss.item(), g)
    };
    let (first, g) = loss_at(&params);
    // Every tensor of the last layer gets a non-zero gradient, except the key bias: it adds
    // q·b_k to every score of a query alike, which the softmax cancels (its gradient is zero
    // exactly, not by accident).
    for (&i, gi) in trainable.iter().zip(&g) {
        if params.names()[i].ends_with("attention.self.key.bias") {
            assert!(gi.iter().all(|v| v.abs() < 1e-10));
            continue;
        }
        assert!(
            gi.iter().any(|v| v.abs() > 1e-12),
            "{} has a zero gradient",
            params.names()[i]
        );
    }
    let before = params.clone();
    let mut opt = Adam::<f64>::new(0.01);
    let mut last = first;
    for _ in 0..20 {
        let (l, g) = loss_at(&params);
        last = l;
        let mut all: Vec<ArrayD<f64>> = params
            .tensors()
            .iter()
            .map(|t| ArrayD::zeros(t.shape()))
            .collect();
        for (&i, gi) in trainable.iter().zip(g) {
            all[i] = gi;
        }
        opt.step(&mut params, &all).unwrap();
    }
    assert!(last < 0.5 * first, "episode loss {first} -> {last}");
    for (i, (a, b)) in params.tensors().iter().zip(before.tensors()).enumerate() {
        if !trainable.contains(&i) {
            assert_eq!(a, b, "{} moved while frozen", params.names()[i]);
        }
    }
}
