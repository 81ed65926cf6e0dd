//! Gridworlds from ASCII maps, with the exact model (`TabularModel`), ANSI and PNG rendering.
//!
//! Actions: 0 up, 1 down, 2 left, 3 right. With probability `1 - slip` the move goes where
//! asked, with `slip / 2` to each side (FrozenLake's slippery ice is `slip = 2/3`). States are
//! the non-wall cells in row-major order; goals, lava and holes are terminal (absorbing,
//! reward 0 after). See [`map`] for the map format.

pub mod builtin;
mod environment;
pub mod map;
mod model;
mod observation;
mod options;
mod params;
pub mod render;

use autodidact_core::{Config, EnvInstance, EnvKind, Hyperparams, Seed};

pub use builtin::{builtin, BuiltinMap, BUILTIN_MAPS};
pub use environment::Gridworld;
pub use map::{Cell, GridMap, MapDefaults};
pub use model::GridModel;
pub use observation::ObservationKind;
pub use options::GridOptions;
pub use params::{load_map, GridworldParams, ObservationName};
pub use render::PngOptions;

/// Number of actions (up, down, left, right).
pub const NUM_ACTIONS: usize = 4;
/// Action names, by index.
pub const ACTION_NAMES: [&str; 4] = ["up", "down", "left", "right"];

fn build_gridworld(config: &Config, seed: Seed) -> autodidact_core::Result<EnvInstance> {
    let params = GridworldParams::from_config(config)?;
    Ok(EnvInstance::Rl(Box::new(Gridworld::from_params(
        &params, seed,
    )?)))
}

autodidact_core::register_env! {
    name: "gridworld",
    kind: EnvKind::Rl,
    summary: "gridworld from an ASCII map (FrozenLake, four-rooms, cliff walk, random) with slip and the exact model",
    params: GridworldParams::docs,
    default_config: GridworldParams::default_config,
    build: build_gridworld,
}
