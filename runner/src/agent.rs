//! TEMPORARY wiring until the wave-ops merge.
use crate::errors::Result;
use clap::Subcommand;
/// The agent's tools.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Replay simulated customers against the agent, wave after wave of new intents.
    Replay(crate::replay::ReplayArgs),
}
/// Runs one of the agent's tools.
pub fn run(c: &AgentCommand) -> Result<()> {
    match c {
        AgentCommand::Replay(a) => crate::replay::replay(a),
    }
}
