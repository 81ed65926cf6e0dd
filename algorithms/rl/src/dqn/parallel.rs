//! Data-parallel shards for DQN's two heavy computations: a minibatch's gradient and a batch
//! of TD targets. Rows are split into `threads` contiguous shards; shard 0 runs on the
//! calling thread, the others on persistent worker threads (each with its own thread-local
//! tape), and the results are combined in shard order — so a given number of threads always
//! gives the same bits, whatever the machine. Parameters travel as `Arc`s, never copied.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use autodidact_core::{optim, CreateGraph, Params, Tape, Tensor, Var};
use ndarray::{s, Array1, Array2, ArrayView2};

use super::network::QNetwork;
use crate::errors::{Result, RlError};

/// The TD loss of one shard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TdLoss {
    /// Huber with threshold δ.
    Huber(f64),
    /// Squared error.
    Mse,
}

/// One shard of a minibatch.
pub struct GradJob {
    /// The network's layout.
    pub net: Arc<QNetwork>,
    /// The online parameters.
    pub params: Arc<Params<f32>>,
    /// Observations of the shard.
    pub obs: Array2<f32>,
    /// Actions of the shard.
    pub actions: Vec<usize>,
    /// TD targets of the shard.
    pub targets: Vec<f32>,
    /// Importance weights of the shard.
    pub weights: Option<Vec<f32>>,
    /// `1 / B` for the whole minibatch, so shard losses add up to the mean.
    pub scale: f64,
    /// The loss.
    pub loss: TdLoss,
}

/// What a shard gives back.
pub struct GradOut {
    /// Gradients of the shard's share of the loss, in the store's order.
    pub grads: Vec<Tensor<f32>>,
    /// The shard's share of the loss.
    pub loss: f64,
    /// TD errors `Q(s,a) − y` of the shard's rows.
    pub td: Vec<f32>,
    /// Sum of `Q(s,a)` over the shard's rows.
    pub q_sum: f64,
}

/// The gradient of one shard's share of the (weighted) mean TD loss.
pub fn shard_gradient(job: &GradJob) -> GradOut {
    let tape = Tape::<f32>::new();
    let p = tape.params(&job.params);
    let q = job
        .net
        .forward(&p, Var::constant(job.obs.clone().into_dyn()))
        .gather(&job.actions);
    let y = Var::constant(Array1::from(job.targets.clone()).into_dyn());
    let d = q - y;
    let elem = match job.loss {
        TdLoss::Huber(delta) => {
            let dt = delta as f32;
            let mask = d.with_value(|v| v.mapv(|x| if x.abs() <= dt { 1.0 } else { 0.0 }));
            Var::where_mask(mask, d.square() * 0.5, (d.abs() - 0.5 * delta) * delta)
        }
        TdLoss::Mse => d.square(),
    };
    let weighted = match &job.weights {
        Some(w) => elem * Var::constant(Array1::from(w.clone()).into_dyn()),
        None => elem,
    };
    let loss = weighted.sum() * job.scale;
    let grads = optim::values(&tape.grad(&loss, &p, CreateGraph::No));
    GradOut {
        grads,
        loss: loss.item(),
        td: d.with_value(|v| v.iter().copied().collect()),
        q_sum: q.with_value(|v| v.iter().map(|&x| f64::from(x)).sum()),
    }
}

/// One shard of a target computation: `max_a' Q⁻(s', a')` (Double DQN: `Q⁻(s', argmax Q)`).
pub struct TargetJob {
    /// The network's layout.
    pub net: Arc<QNetwork>,
    /// The target parameters.
    pub target: Arc<Params<f32>>,
    /// The online parameters, for Double DQN.
    pub online: Option<Arc<Params<f32>>>,
    /// Next observations of the shard.
    pub next_obs: Array2<f32>,
}

/// The bootstrap values of one shard.
pub fn shard_bootstrap(job: &TargetJob) -> Result<Vec<f32>> {
    bootstrap_values(
        &job.net,
        &job.target,
        job.online.as_deref(),
        job.next_obs.view(),
    )
}

/// Rows per block of a target computation: small enough that the activations stay in cache
/// and are not fresh memory every time (an 8192-row pass allocated 8 MB per layer).
pub const TARGET_BLOCK_ROWS: usize = 512;

/// `max_a' Q⁻(s', a')`, or with `online` Double DQN's `Q⁻(s', argmax_a' Q(s', a'))`, in
/// blocks of [`TARGET_BLOCK_ROWS`] rows.
pub fn bootstrap_values(
    net: &QNetwork,
    target: &Params<f32>,
    online: Option<&Params<f32>>,
    next_obs: ArrayView2<'_, f32>,
) -> Result<Vec<f32>> {
    let n = next_obs.nrows();
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + TARGET_BLOCK_ROWS).min(n);
        let block = next_obs.slice(s![start..end, ..]);
        let qt = net.q_values(target, block)?;
        match online {
            Some(o) => {
                let qo = net.q_values(o, block)?;
                out.extend(qo.rows().into_iter().zip(qt.rows()).map(|(ro, rt)| {
                    let row: Vec<f32> = ro.iter().copied().collect();
                    rt[super::argmax_f32(&row)]
                }));
            }
            None => out.extend(
                qt.rows()
                    .into_iter()
                    .map(|r| r.iter().copied().fold(f32::NEG_INFINITY, f32::max)),
            ),
        }
        start = end;
    }
    Ok(out)
}

enum Job {
    Grad(GradJob),
    Targets(TargetJob),
}

enum Reply {
    Grad(GradOut),
    Targets(Result<Vec<f32>>),
}

struct Worker {
    tx: Option<Sender<Job>>,
    rx: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn() -> Result<Worker> {
        let (tx, jobs) = channel::<Job>();
        let (replies, rx) = channel::<Reply>();
        let handle = std::thread::Builder::new()
            .name("dqn-shard".into())
            .spawn(move || {
                for job in jobs {
                    let reply = match &job {
                        Job::Grad(g) => Reply::Grad(shard_gradient(g)),
                        Job::Targets(t) => Reply::Targets(shard_bootstrap(t)),
                    };
                    // Release the shared parameters before replying, so the caller can
                    // update them in place.
                    drop(job);
                    if replies.send(reply).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| RlError::Numerical(format!("cannot start a DQN worker thread: {e}")))?;
        Ok(Worker {
            tx: Some(tx),
            rx,
            handle: Some(handle),
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or_else(|| RlError::Numerical("a DQN worker thread stopped".into()))
    }

    fn recv(&self) -> Result<Reply> {
        self.rx
            .recv()
            .map_err(|_| RlError::Numerical("a DQN worker thread stopped".into()))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Runs shards on the calling thread and `threads − 1` workers.
pub struct Shards {
    workers: Vec<Worker>,
}

impl Shards {
    /// `threads` shards (1: everything on the calling thread, no worker).
    pub fn new(threads: usize) -> Result<Shards> {
        let workers = (1..threads.max(1))
            .map(|_| Worker::spawn())
            .collect::<Result<Vec<_>>>()?;
        Ok(Shards { workers })
    }

    /// Number of shards.
    pub fn count(&self) -> usize {
        self.workers.len() + 1
    }

    /// Row ranges of `n` rows split into the shards (contiguous, sizes differing by ≤ 1).
    fn ranges(&self, n: usize) -> Vec<(usize, usize)> {
        let k = self.count().min(n.max(1));
        (0..k).map(|i| (i * n / k, (i + 1) * n / k)).collect()
    }

    /// The gradient of the (weighted) mean TD loss of a minibatch, summed over shards in
    /// order; returns the gradients, the loss, the TD errors and the mean `Q(s,a)`.
    pub fn gradient(
        &self,
        net: &Arc<QNetwork>,
        params: &Arc<Params<f32>>,
        obs: Array2<f32>,
        actions: &[usize],
        targets: &[f32],
        weights: Option<&[f32]>,
        loss: TdLoss,
    ) -> Result<(Vec<Tensor<f32>>, f64, Vec<f32>, f64)> {
        let n = actions.len();
        let scale = 1.0 / n as f64;
        let ranges = self.ranges(n);
        let job = |(a, b): (usize, usize)| GradJob {
            net: Arc::clone(net),
            params: Arc::clone(params),
            obs: obs.slice(s![a..b, ..]).to_owned(),
            actions: actions[a..b].to_vec(),
            targets: targets[a..b].to_vec(),
            weights: weights.map(|w| w[a..b].to_vec()),
            scale,
            loss,
        };
        for (w, &r) in self.workers.iter().zip(&ranges[1..]) {
            w.send(Job::Grad(job(r)))?;
        }
        let first = if ranges.len() == 1 {
            shard_gradient(&GradJob {
                net: Arc::clone(net),
                params: Arc::clone(params),
                obs,
                actions: actions.to_vec(),
                targets: targets.to_vec(),
                weights: weights.map(<[f32]>::to_vec),
                scale,
                loss,
            })
        } else {
            shard_gradient(&job(ranges[0]))
        };
        let mut grads = first.grads;
        let mut total = first.loss;
        let mut td = first.td;
        let mut q_sum = first.q_sum;
        for w in self.workers.iter().take(ranges.len() - 1) {
            let Reply::Grad(out) = w.recv()? else {
                return Err(RlError::Numerical(
                    "a DQN worker answered out of turn".into(),
                ));
            };
            for (g, o) in grads.iter_mut().zip(&out.grads) {
                g.zip_mut_with(o, |a, &b| *a += b);
            }
            total += out.loss;
            td.extend(out.td);
            q_sum += out.q_sum;
        }
        Ok((grads, total, td, q_sum / n as f64))
    }

    /// Bootstrap values of a batch of next observations, shard by shard.
    pub fn bootstrap(
        &self,
        net: &Arc<QNetwork>,
        target: &Arc<Params<f32>>,
        online: Option<&Arc<Params<f32>>>,
        next_obs: Array2<f32>,
    ) -> Result<Vec<f32>> {
        let ranges = self.ranges(next_obs.nrows());
        if ranges.len() == 1 {
            return bootstrap_values(net, target, online.map(|o| o.as_ref()), next_obs.view());
        }
        for (w, &(a, b)) in self.workers.iter().zip(&ranges[1..]) {
            w.send(Job::Targets(TargetJob {
                net: Arc::clone(net),
                target: Arc::clone(target),
                online: online.map(Arc::clone),
                next_obs: next_obs.slice(s![a..b, ..]).to_owned(),
            }))?;
        }
        let (a, b) = ranges[0];
        let mut out = bootstrap_values(
            net,
            target,
            online.map(|o| o.as_ref()),
            next_obs.slice(s![a..b, ..]),
        )?;
        for w in self.workers.iter().take(ranges.len() - 1) {
            let Reply::Targets(r) = w.recv()? else {
                return Err(RlError::Numerical(
                    "a DQN worker answered out of turn".into(),
                ));
            };
            out.extend(r?);
        }
        Ok(out)
    }
}
