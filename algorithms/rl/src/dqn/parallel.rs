//! Data parallelism for DQN's two heavy computations, a minibatch's gradient and a batch of
//! TD targets, on core's worker pool.
//!
//! Rows are cut into blocks whose bounds depend on the number of rows only
//! ([`GRADIENT_BLOCK_ROWS`], [`TARGET_BLOCK_ROWS`]), never on the number of threads; the
//! blocks run on the pool and are combined in block order. So `threads` changes the speed,
//! never the bits: one thread computes the same blocks one after another.

use autodidact_core::parallel::{self, ThreadPool};
use autodidact_core::Params;
use ndarray::{s, ArrayView2};

use super::network::QNetwork;
use super::td::{bootstrap_values, td_gradient, TdGradient, TdLoss, TdRows};
use crate::errors::Result;

/// Rows per block of a gradient. A minibatch of up to 64 rows (rl-zoo's CartPole size) is one
/// block, one pass on the tape, as fast on one thread as without blocks (two blocks of 32
/// cost ~10 % more there); larger ones are cut into blocks of 33–64 rows that threads share.
pub const GRADIENT_BLOCK_ROWS: usize = 64;

/// Rows per block of a target computation: small enough that the activations stay in cache
/// and are not fresh memory every time (an 8192-row pass allocated 8 MB per layer).
pub const TARGET_BLOCK_ROWS: usize = 512;

/// Runs row blocks on `threads` threads (0: every core; one: on the calling thread).
pub struct Shards {
    pool: Option<ThreadPool>,
    threads: usize,
}

impl Shards {
    /// Blocks shared by `threads` threads (0: every core).
    pub fn new(threads: usize) -> Result<Shards> {
        Ok(Shards {
            pool: parallel::pool_for(threads)?,
            threads: parallel::worker_threads(threads).max(1),
        })
    }

    /// Number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The worker pool (`None` for one thread).
    pub fn pool(&self) -> Option<&ThreadPool> {
        self.pool.as_ref()
    }

    /// The gradient of the (weighted) mean TD loss of a minibatch, blocks summed in order;
    /// `q_sum` is the sum of `Q(s,a)` over all rows.
    pub fn gradient(
        &self,
        net: &QNetwork,
        params: &Params<f32>,
        rows: TdRows<'_>,
        loss: TdLoss,
    ) -> TdGradient {
        let n = rows.actions.len();
        let scale = 1.0 / n as f64;
        let blocks = parallel::chunks(n, GRADIENT_BLOCK_ROWS);
        let mut parts = parallel::ordered_map(self.pool.as_ref(), &blocks, |r| {
            let block = TdRows {
                obs: rows.obs.slice(s![r.clone(), ..]),
                actions: &rows.actions[r.clone()],
                targets: &rows.targets[r.clone()],
                weights: rows.weights.map(|w| &w[r.clone()]),
            };
            td_gradient(net, params, block, scale, loss)
        })
        .into_iter();
        // `chunks` always gives at least one block.
        let mut total = parts.next().unwrap_or_else(|| TdGradient {
            grads: params.zeros_like(),
            loss: 0.0,
            td: Vec::new(),
            q_sum: 0.0,
        });
        for part in parts {
            for (g, o) in total.grads.iter_mut().zip(&part.grads) {
                g.zip_mut_with(o, |a, &b| *a += b);
            }
            total.loss += part.loss;
            total.td.extend(part.td);
            total.q_sum += part.q_sum;
        }
        total
    }

    /// Bootstrap values of a batch of next observations (see [`bootstrap_values`]), block by
    /// block.
    pub fn bootstrap(
        &self,
        net: &QNetwork,
        target: &Params<f32>,
        online: Option<&Params<f32>>,
        next_obs: ArrayView2<'_, f32>,
    ) -> Result<Vec<f32>> {
        let blocks = parallel::chunks(next_obs.nrows(), TARGET_BLOCK_ROWS);
        let parts = parallel::ordered_map(self.pool.as_ref(), &blocks, |r| {
            bootstrap_values(net, target, online, next_obs.slice(s![r.clone(), ..]))
        });
        let mut out = Vec::with_capacity(next_obs.nrows());
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }
}
