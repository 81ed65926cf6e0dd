//! The built-in maps, by name.

/// A built-in map: its name, what it is, and its text (grid and legend).
#[derive(Clone, Copy, Debug)]
pub struct BuiltinMap {
    /// The name given as `map`.
    pub name: &'static str,
    /// Where it comes from.
    pub summary: &'static str,
    /// The map in the ASCII format.
    pub text: &'static str,
}

/// Every built-in map.
pub const BUILTIN_MAPS: &[BuiltinMap] = &[
    BuiltinMap {
        name: "frozen-lake-4x4",
        summary: "Gymnasium's FrozenLake 4x4: holes end the episode, goal +1, slippery (1/3 each of intended and both sides)",
        text: "\
SFFF
FHFH
FFFH
HFFG

slip = 0.6666666666666666
max_steps = 100
",
    },
    BuiltinMap {
        name: "frozen-lake-8x8",
        summary: "Gymnasium's FrozenLake 8x8, slippery, 200 steps",
        text: "\
SFFFFFFF
FFFFFFFF
FFFHFFFF
FFFFFHFF
FFFHFFFF
FHHFFFHF
FHFFHFHF
FFFHFFFG

slip = 0.6666666666666666
max_steps = 200
",
    },
    BuiltinMap {
        name: "four-rooms",
        summary: "Sutton, Precup & Singh (1999): four rooms joined by doorways, start top-left, goal bottom-right",
        text: "\
#############
#S....#.....#
#.....#.....#
#...........#
#.....#.....#
#.....#.....#
##.####.....#
#.....###.###
#.....#.....#
#.....#.....#
#...........#
#.....#....G#
#############

max_steps = 200
",
    },
    BuiltinMap {
        name: "cliff-walk",
        summary: "Sutton & Barto's cliff walking (Example 6.6): -1 per step, -100 and back to the start off the cliff",
        text: "\
............
............
............
SCCCCCCCCCCG

step_reward = -1
goal_reward = -1
cliff_reward = -100
max_steps = 200
",
    },
];

/// The built-in map called `name`.
pub fn builtin(name: &str) -> Option<&'static BuiltinMap> {
    BUILTIN_MAPS.iter().find(|m| m.name == name)
}
