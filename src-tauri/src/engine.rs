//! Starting and stopping the engine inside the desktop app.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use annal::config::{ConfigFile, PathInputs};
use annal::dashboard::Dashboard;
use annal::events::EventKind;
use annal::owner::{self, Owner, ServeOptions};
use annal::pool::Pool;
use anyhow::Context as _;
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// How long a headless owner gets to drain and hand over the data dir.
const TAKE_OVER_WAIT: Duration = Duration::from_secs(20);
/// How long shutdown waits for sessions and indexing before the app exits anyway.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// The running engine, managed by Tauri so `RunEvent::Exit` can stop it.
#[derive(Debug)]
pub struct Running {
    pool: Arc<Pool>,
    stop: CancellationToken,
    served: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl Running {
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Stops serving, lets in-flight calls finish, shuts the pool down, releases the lock.
    pub fn stop(&self) {
        self.stop.cancel();
        let served = self.served.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(served) = served {
            tauri::async_runtime::block_on(async {
                let _ = tokio::time::timeout(STOP_WAIT, served).await;
            });
        }
    }
}

/// Takes over the data dir, opens the pool, manages the dashboard, starts serving agents and
/// forwarding events. Blocks setup only for the lock and the store's open (not the model).
pub fn start<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<Running> {
    let paths = PathInputs::from_env(None).resolve().context("cannot locate Annal's config")?;
    let config = ConfigFile::load(paths).context("cannot load Annal's config")?;
    let data_dir = config.snapshot().data_dir(config.paths());
    let owner = tauri::async_runtime::block_on(async {
        let lock = owner::take_over(&data_dir, TAKE_OVER_WAIT).await?;
        Owner::open(config, lock).await
    })
    .context("cannot become the owner of Annal's data")?;
    let pool = Arc::clone(owner.pool());
    app.manage(Dashboard::new(Arc::clone(&pool), owner::sidecar_binary()));
    forward_events(app.clone(), Arc::clone(&pool));

    let options = ServeOptions { idle_exit: None };
    let stop = CancellationToken::new();
    let serving = stop.clone();
    let served = tauri::async_runtime::spawn(async move {
        if let Err(err) = owner.serve(&options, serving).await {
            tracing::error!(%err, "serving agents stopped");
        }
        owner.shutdown().await;
    });
    quit_on_signal(app.clone());
    Ok(Running { pool, stop, served: Mutex::new(Some(served)) })
}

/// SIGTERM / SIGINT (a logout, `kill`, Ctrl-C in a terminal) quit the app the normal way, so
/// in-flight calls finish and the pool shuts down cleanly.
fn quit_on_signal<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{SignalKind, signal};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut terminate), Ok(mut interrupt)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::warn!("cannot handle signals; SIGTERM will end the app abruptly");
            return;
        };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        app.exit(0);
    });
}

/// Brings the tray in line with the pool, with the review inbox's count as it is now.
pub async fn refresh_tray<R: Runtime>(app: &AppHandle<R>, pool: &Pool) {
    let to_review = pool.memories().to_review().await.unwrap_or_else(|err| {
        tracing::warn!(%err, "cannot count the review inbox for the tray");
        0
    });
    crate::tray::refresh(app, pool, to_review);
}

/// Every engine event becomes a Tauri event of the same name; index, project and memory events
/// also update the tray (its activity and review count), and a failure (an index run's, or the
/// database file's loss) raises a notification.
pub fn forward_events<R: Runtime>(app: AppHandle<R>, pool: Arc<Pool>) {
    let mut receiver = pool.events().subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let kind = event.kind();
                    let _ = app.emit(kind.as_str(), &event);
                    if kind != EventKind::IndexProgress {
                        refresh_tray(&app, &pool).await;
                    }
                    // A lost database file leaves the app running, refusing writes (the store
                    // does), so the user keeps the window and chooses when to restart, which
                    // opens the file now at that path. Restarting by itself would swap what the
                    // user is looking at for an empty or different database without a word.
                    if matches!(kind, EventKind::IndexFailed | EventKind::DatabaseLost) {
                        crate::tray::notify_failure(&app, &event);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let _ = app.emit("lagged", missed);
                    refresh_tray(&app, &pool).await;
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}
