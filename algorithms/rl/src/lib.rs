//! # autodidact-rl
//!
//! Reinforcement learning: exact Bellman solvers, Q-learning, SARSA and the DQN family (work in progress).
#![warn(missing_docs)]
