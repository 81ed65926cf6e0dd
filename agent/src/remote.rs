//! A client of a running agent's HTTP API: what the replay benchmark drives with `--url`.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{AgentError, Result};
use crate::learn::Strategy;
use crate::replay::Target;
use crate::service::{MessageReply, MAX_PREDICT};
use crate::store::IntentRow;

/// An agent served at a base URL, with its two tokens.
#[derive(Clone, Debug)]
pub struct Client {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    client_token: String,
    admin_token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the agent at `url` (no request is made yet).
    pub fn new(url: &str, client_token: &str, admin_token: &str) -> Result<Client> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(AgentError::config(
                "url",
                format!("{url:?} is not an http:// or https:// URL"),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .map_err(|e| AgentError::Remote(format!("cannot make an HTTP client: {e}")))?;
        Ok(Client {
            url: url.trim_end_matches('/').to_string(),
            client_token: client_token.to_string(),
            admin_token: admin_token.to_string(),
            http,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        admin: bool,
        body: Option<serde_json::Value>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.url);
        let token = if admin {
            &self.admin_token
        } else {
            &self.client_token
        };
        let mut request = self.http.request(method, &url).bearer_auth(token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AgentError::Remote(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| AgentError::Remote(format!("{url}: {e}")))?;
        if !status.is_success() {
            return Err(AgentError::Remote(format!("{url}: HTTP {status}: {text}")));
        }
        serde_json::from_str(&text)
            .map_err(|e| AgentError::Remote(format!("{url}: unexpected reply ({e}): {text}")))
    }

    /// `GET /v1/intents`.
    pub async fn intents(&self) -> Result<Vec<IntentRow>> {
        self.call(reqwest::Method::GET, "/v1/intents", true, None)
            .await
    }
}

#[derive(Deserialize)]
struct Predictions {
    predictions: Vec<Predicted>,
}

#[derive(Deserialize)]
struct Predicted {
    intent: String,
}

#[derive(Deserialize)]
struct Consolidated {
    accepted: bool,
}

#[derive(Deserialize)]
struct Models {
    served: i64,
    versions: Vec<Version>,
}

#[derive(Deserialize)]
struct Version {
    status: String,
}

impl Target for Client {
    async fn create_intent(&self, name: &str, examples: &[String], answer: &str) -> Result<()> {
        let body = serde_json::json!({"name": name, "examples": examples, "answer": answer});
        self.call::<serde_json::Value>(reqwest::Method::POST, "/v1/intents", true, Some(body))
            .await
            .map(|_| ())
    }
    async fn message(&self, text: &str, session: &str) -> Result<MessageReply> {
        let body = serde_json::json!({"text": text, "session": session});
        self.call(reqwest::Method::POST, "/v1/messages", false, Some(body))
            .await
    }
    async fn feedback(&self, id: i64, resolved: bool, correct_intent: Option<&str>) -> Result<()> {
        let mut body = serde_json::json!({"resolved": resolved});
        if let Some(c) = correct_intent {
            body["correct_intent"] = c.into();
        }
        let path = format!("/v1/messages/{id}/feedback");
        self.call::<serde_json::Value>(reqwest::Method::POST, &path, false, Some(body))
            .await
            .map(|_| ())
    }
    async fn predict(&self, texts: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_PREDICT) {
            let body = serde_json::json!({ "texts": chunk });
            let p: Predictions = self
                .call(reqwest::Method::POST, "/v1/admin/predict", true, Some(body))
                .await?;
            if p.predictions.len() != chunk.len() {
                return Err(AgentError::Remote(format!(
                    "{}/v1/admin/predict answered {} predictions for {} texts",
                    self.url,
                    p.predictions.len(),
                    chunk.len()
                )));
            }
            out.extend(p.predictions.into_iter().map(|p| p.intent));
        }
        Ok(out)
    }
    async fn consolidate(&self, strategy: Strategy, from_scratch: bool) -> Result<bool> {
        let body = serde_json::json!({"strategy": strategy, "from_scratch": from_scratch});
        let c: Consolidated = self
            .call(
                reqwest::Method::POST,
                "/v1/admin/consolidate",
                true,
                Some(body),
            )
            .await?;
        Ok(c.accepted)
    }
    fn pending(&self) -> u64 {
        // The server's own worker decides when to consolidate.
        0
    }
    async fn versions(&self) -> Result<(i64, usize, usize)> {
        let m: Models = self
            .call(reqwest::Method::GET, "/v1/admin/models", true, None)
            .await?;
        let refused = m.versions.iter().filter(|v| v.status != "accepted").count();
        Ok((m.served, m.versions.len().saturating_sub(1), refused))
    }
}
