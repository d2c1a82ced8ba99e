//! The Connect view's queries: each client's state, the changes Connect or Disconnect would
//! make, and carrying out the changes the person saw. They call `install`, the same functions
//! as `annal install` / `annal uninstall`, on a blocking thread (file work, and Claude Code's
//! own CLI as a child process).

use std::path::PathBuf;

use serde::Deserialize;
use ts_rs::TS;

use super::{DashboardError, Reply};
use crate::install::{self, Client, ClientStatus, Environment, Operation, Plan, Request, Scope};

/// Which client, and whether to connect or disconnect it.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ConnectParams {
    pub client: Client,
    pub operation: Operation,
}

/// The changes the person confirmed: applied only if the files still give that plan.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ConnectConfirm {
    pub client: Client,
    pub operation: Operation,
    pub fingerprint: String,
}

/// Where the entries point: the `annal` binary agents start. The owner knows it (itself, or
/// for the desktop app the sidecar beside it); the rest of the environment is read at each
/// call, as `annal install` reads it.
#[derive(Debug, Clone)]
pub(super) struct Agents {
    sidecar: PathBuf,
}

impl Agents {
    pub(super) fn new(sidecar: PathBuf) -> Self {
        Self { sidecar }
    }

    fn environment(&self) -> Result<Environment, DashboardError> {
        let mut env = Environment::from_process()?;
        env.exe.clone_from(&self.sidecar);
        Ok(env)
    }

    pub(super) async fn clients(&self) -> Reply<Vec<ClientStatus>> {
        let env = self.environment()?;
        blocking(move || Ok(install::status(&env, Scope::User))).await
    }

    pub(super) async fn plan(&self, params: ConnectParams) -> Reply<Plan> {
        let env = self.environment()?;
        let request = request(params.client);
        blocking(move || Ok(install::plan(&env, params.operation, &request)?)).await
    }

    pub(super) async fn apply(&self, confirm: ConnectConfirm) -> Reply<Plan> {
        let env = self.environment()?;
        let request = request(confirm.client);
        blocking(move || {
            Ok(install::apply_confirmed(&env, confirm.operation, &request, &confirm.fingerprint)?)
        })
        .await
    }
}

/// One client at user scope, with the instruction block: what Connect in the dashboard means.
fn request(client: Client) -> Request {
    Request { clients: vec![client], ..Request::default() }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Reply<T> + Send + 'static) -> Reply<T> {
    tokio::task::spawn_blocking(work).await.map_err(|err| DashboardError::Task(err.to_string()))?
}
