//! `autodidact-agent-serve`: runs the agent's HTTP server until Ctrl-C or SIGTERM.
//!
//! ```text
//! autodidact-agent-serve [--config agent.toml] [--data DIR] [--db FILE|postgres://URL] [--bind ADDR]
//! ```
//! Tokens come from `AUTODIDACT_CLIENT_TOKEN` / `AUTODIDACT_ADMIN_TOKEN`, else from the
//! database, else they are generated and printed once. Prints `listening on http://ADDR`
//! when it accepts requests.

use std::path::PathBuf;

use autodidact_agent::{api, AgentConfig, AgentError, Result};

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

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args).and_then(api::run_blocking) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autodidact-agent-serve: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
