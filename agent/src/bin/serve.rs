//! `autodidact-agent-serve`: runs the agent's HTTP server until Ctrl-C.
//!
//! ```text
//! autodidact-agent-serve [--config agent.toml] [--data DIR] [--db FILE] [--bind ADDR]
//! ```
//! Tokens come from `AUTODIDACT_CLIENT_TOKEN` / `AUTODIDACT_ADMIN_TOKEN`, else from the
//! database, else they are generated and printed once. Prints `listening on http://ADDR`
//! when it accepts requests.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use autodidact_agent::{api, Agent, AgentConfig, AgentError, Result};

fn parse(args: &[String]) -> Result<AgentConfig> {
    let mut config = AgentConfig::default();
    let mut overrides = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let value = args
            .get(i + 1)
            .ok_or_else(|| AgentError::config(args[i].clone(), "needs a value"))?;
        match args[i].as_str() {
            "--config" => config = AgentConfig::from_file(&PathBuf::from(value))?,
            "--data" | "--db" | "--bind" => overrides.push((args[i].clone(), value.clone())),
            other => {
                return Err(AgentError::config(
                    other,
                    "unknown option (known: --config, --data, --db, --bind)",
                ))
            }
        }
        i += 2;
    }
    for (k, v) in overrides {
        match k.as_str() {
            "--data" => config.data = v.into(),
            "--db" => config.db = v.into(),
            _ => {
                config.bind = v
                    .parse()
                    .map_err(|e| AgentError::config("--bind", format!("{v}: {e}")))?
            }
        }
    }
    Ok(config.with_env_tokens())
}

async fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = parse(&args)?;
    let agent = Arc::new(Agent::open(config).await?);
    for (role, token) in agent.generated_tokens() {
        println!("generated {} token (shown once): {token}", role.as_str());
    }
    let listener = tokio::net::TcpListener::bind(agent.config().bind)
        .await
        .map_err(|e| AgentError::io(agent.config().bind.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AgentError::io("listener", e))?;
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    api::serve(agent, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("autodidact-agent-serve: {e}");
        std::process::exit(1);
    }
}
