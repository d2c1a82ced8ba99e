//! `GET /api/owner`: facts about the owner process itself for `annal status` — what only the
//! process serving knows (pid, role, uptime, socket, port, connected sessions, the model it
//! uses). Project counts come from the dashboard's `projects` query.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::embed::ModelSearch;
use crate::owner_lock::Role;
use crate::pool::Pool;

/// What the owner tells its HTTP adapter about itself.
#[derive(Debug)]
pub struct OwnerInfo {
    pub role: Role,
    pub started_at: DateTime<Utc>,
    pub socket: PathBuf,
    /// Socket sessions connected now (the owner counts them).
    pub sessions: Arc<AtomicUsize>,
}

/// The answer of `/api/owner`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerStatus {
    pub pid: u32,
    pub role: String,
    pub started_at: DateTime<Utc>,
    pub uptime_secs: i64,
    pub socket: String,
    pub http_port: u16,
    pub sessions: usize,
    pub data_dir: String,
    pub config_file: String,
    pub model: ModelStatus,
}

/// Where the owner finds the embedding model, or why it does not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelStatus {
    pub dir: Option<String>,
    pub error: Option<String>,
}

pub fn routes(pool: Arc<Pool>, info: Arc<OwnerInfo>, port: u16) -> Router {
    Router::new().route("/api/owner", get(status)).with_state((pool, info, port))
}

async fn status(
    State((pool, info, port)): State<(Arc<Pool>, Arc<OwnerInfo>, u16)>,
) -> Json<OwnerStatus> {
    let config = pool.config();
    let data_dir = config.snapshot().data_dir(config.paths());
    let search = ModelSearch::from_env(config.snapshot().model_dir.clone(), &data_dir);
    // Looking for the model stats files: not on an async worker.
    let found = tokio::task::spawn_blocking(move || search.locate())
        .await
        .map_err(|err| err.to_string())
        .and_then(|found| found.map(|dir| dir.display().to_string()).map_err(|e| e.to_string()));
    let model = match found {
        Ok(dir) => ModelStatus { dir: Some(dir), error: None },
        Err(error) => ModelStatus { dir: None, error: Some(error) },
    };
    Json(OwnerStatus {
        pid: std::process::id(),
        role: match info.role {
            Role::Headless => "headless",
            Role::Desktop => "desktop",
        }
        .to_owned(),
        started_at: info.started_at,
        uptime_secs: (Utc::now() - info.started_at).num_seconds(),
        socket: info.socket.display().to_string(),
        http_port: port,
        sessions: info.sessions.load(Ordering::SeqCst),
        data_dir: data_dir.display().to_string(),
        config_file: config.paths().config_file.display().to_string(),
        model,
    })
}
