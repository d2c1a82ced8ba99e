//! How the terminal commands reach the data: through the running owner's HTTP API with the
//! bearer token from the data dir, never by opening the database. An owner is started when
//! none answers, exactly as an agent's sidecar does. Blocking (ureq), on the main thread.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::transfer::TransferError;
use crate::http::{ADDRESS_FILE, TOKEN_FILE};
use crate::owner_lock::{current_owner, process};
use crate::sidecar::{self, Launch};

/// How long an owner that is up may take to answer on HTTP.
const HTTP_START: Duration = Duration::from_secs(10);

/// A connection to the owner's HTTP API.
#[derive(Debug)]
pub struct OwnerClient {
    base: String,
    authorization: String,
    agent: ureq::Agent,
    /// Whether this command had to start the owner.
    pub started: bool,
}

/// A response whose body is read as it arrives.
pub type Streamed = ureq::http::Response<ureq::Body>;

/// Waits (bounded) until the address the owner wrote answers: an owner binds its socket a
/// moment before its HTTP port.
pub fn wait_for_http(data_dir: &Path) -> Option<std::net::SocketAddr> {
    let deadline = Instant::now() + HTTP_START;
    loop {
        let address = std::fs::read_to_string(data_dir.join(ADDRESS_FILE));
        let answering = address.ok().and_then(|a| a.trim().parse::<std::net::SocketAddr>().ok());
        if let Some(address) = answering
            .filter(|a| std::net::TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
        {
            return Some(address);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl OwnerClient {
    /// Connects to the owner of `launch.data_dir`, starting one if none answers.
    ///
    /// Whether one runs is read from the lock file's live pid rather than by connecting to
    /// its socket, which would count as a session in the `status` it is asked for.
    pub fn connect(launch: &Launch) -> anyhow::Result<Self> {
        let data_dir = &launch.data_dir;
        let running = current_owner(data_dir)
            .and_then(|(pid, _)| process(pid))
            .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok());
        let answering = if running { wait_for_http(data_dir) } else { None };
        let address = match answering {
            Some(address) => address,
            // None runs, or the lock names a process that does not answer (a stale lock whose
            // pid was reused, an owner stopping): as an agent's sidecar would.
            None => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the runtime")?;
                runtime.block_on(sidecar::ensure_owner(launch))?;
                wait_for_http(data_dir).with_context(|| {
                    format!(
                        "the Annal owner on {} serves no HTTP (is its port taken? see {})",
                        data_dir.display(),
                        data_dir.join(sidecar::LOG_FILE).display()
                    )
                })?
            }
        };
        let token_file = launch.data_dir.join(TOKEN_FILE);
        let token = std::fs::read_to_string(&token_file)
            .with_context(|| format!("reading {}", token_file.display()))?;
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        Ok(Self {
            base: format!("http://{address}"),
            authorization: format!("Bearer {}", token.trim()),
            agent,
            started: !running,
        })
    }

    /// The same connection, every request bounded by `limit` in all.
    pub fn timeout(mut self, limit: Duration) -> Self {
        let config = ureq::Agent::config_builder().http_status_as_error(false);
        self.agent = config.timeout_global(Some(limit)).build().new_agent();
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path?query` answered with JSON.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        let request = self.agent.get(self.url(path)).header("Authorization", &self.authorization);
        let response = request.query_pairs(query.iter().copied()).call()?;
        json(response)
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.agent.post(self.url(path)).header("Authorization", &self.authorization);
        json(request.send_json(body)?)
    }

    /// `POST path` without a body, for queries answered with a status only.
    pub fn post_empty(&self, path: &str) -> anyhow::Result<()> {
        let request = self.agent.post(self.url(path)).header("Authorization", &self.authorization);
        let response = request.send_empty()?;
        if response.status().is_success() { Ok(()) } else { Err(refusal(response)) }
    }

    /// `GET path?query` whose successful body the caller reads as it streams.
    pub fn stream(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Streamed> {
        let request = self.agent.get(self.url(path)).header("Authorization", &self.authorization);
        let response = request.query_pairs(query.iter().copied()).call()?;
        if response.status().is_success() { Ok(response) } else { Err(refusal(response)) }
    }

    /// `POST path?query` with `body` streamed from a reader; the successful answer's body is
    /// the caller's to read (ureq reads it once the whole body is sent).
    pub fn upload(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &mut dyn Read,
    ) -> anyhow::Result<Streamed> {
        let request = self.agent.post(self.url(path)).header("Authorization", &self.authorization);
        let request = request
            .query_pairs(query.iter().copied())
            .header("Content-Type", "application/x-ndjson");
        let response = request.send(ureq::SendBody::from_reader(body))?;
        if response.status().is_success() { Ok(response) } else { Err(refusal(response)) }
    }
}

fn json<T: DeserializeOwned>(mut response: Streamed) -> anyhow::Result<T> {
    if !response.status().is_success() {
        return Err(refusal(response));
    }
    let body = response.body_mut().with_config().limit(u64::MAX).read_to_string()?;
    serde_json::from_str(&body).context("the owner's answer")
}

/// The owner's `{kind, message}` refusal as an error (or the status and body when the answer
/// is something else, e.g. a 401 from an owner whose token changed).
fn refusal(mut response: Streamed) -> anyhow::Error {
    let status = response.status();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    match serde_json::from_str::<TransferError>(&body) {
        Ok(refused) => anyhow::anyhow!(refused.message),
        Err(_) => anyhow::anyhow!("the owner answered {status}: {}", body.trim()),
    }
}
