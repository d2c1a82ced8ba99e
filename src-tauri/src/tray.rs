//! The tray icon: the engine's indexing activity as an icon, a title and a status line, and a
//! menu to open the dashboard, re-index or pause a project, connect agents, start at login and
//! quit. Rebuilt from the pool whenever an index or project event arrives.

use std::sync::Arc;

use annal::dashboard::Dashboard;
use annal::events::{Event, EventKind};
use annal::pool::{Activity, Pool};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager as _, Runtime};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_notification::NotificationExt as _;

const TRAY_ID: &str = "annal";

fn icon(activity: &Activity) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match activity {
        Activity::Idle => include_bytes!("../../icons/tray-idle.png"),
        Activity::Indexing { .. } => include_bytes!("../../icons/tray-indexing.png"),
        Activity::Failed { .. } => include_bytes!("../../icons/tray-failed.png"),
    };
    Image::from_bytes(bytes)
}

/// The one-line status shown as the tray title and the menu's first item (tooltips do
/// nothing on Linux).
pub fn status_text(activity: &Activity) -> String {
    match activity {
        Activity::Idle => "Annal: idle".to_owned(),
        Activity::Indexing { projects, files_done } => {
            format!("Annal: indexing {} ({files_done} files done)", projects.join(", "))
        }
        Activity::Failed { project, error } => {
            format!("Annal: indexing {project} failed: {error}")
        }
    }
}

/// The menu line that opens the review inbox.
fn review_text(to_review: u64) -> String {
    match to_review {
        0 => "Nothing to review".to_owned(),
        1 => "1 memory to review…".to_owned(),
        n => format!("{n} memories to review…"),
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, pool: &Pool, to_review: u64) -> tauri::Result<Menu<R>> {
    let activity = pool.activity();
    let status = MenuItem::with_id(app, "status", status_text(&activity), false, None::<&str>)?;
    let review =
        MenuItem::with_id(app, "review", review_text(to_review), to_review > 0, None::<&str>)?;
    let projects = pool.watching();
    let reindex = Submenu::with_id(app, "reindex", "Re-index", !projects.is_empty())?;
    let pause = Submenu::with_id(app, "pause", "Pause watching", !projects.is_empty())?;
    for (project, watching) in &projects {
        reindex.append(&MenuItem::with_id(
            app,
            format!("reindex:{project}"),
            project,
            true,
            None::<&str>,
        )?)?;
        pause.append(&CheckMenuItem::with_id(
            app,
            format!("pause:{project}"),
            project,
            true,
            !watching,
            None::<&str>,
        )?)?;
    }
    let at_login = app.autolaunch().is_enabled().unwrap_or(false);
    Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "open", "Open dashboard", true, None::<&str>)?,
            &MenuItem::with_id(app, "browser", "Open dashboard in browser", true, None::<&str>)?,
            &review,
            &reindex,
            &pause,
            &MenuItem::with_id(app, "connect", "Connect agents…", true, None::<&str>)?,
            &CheckMenuItem::with_id(
                app,
                "autostart",
                "Start at login",
                true,
                at_login,
                None::<&str>,
            )?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", "Quit Annal", true, None::<&str>)?,
        ],
    )
}

pub fn create<R: Runtime>(app: &AppHandle<R>, pool: &Arc<Pool>) -> tauri::Result<()> {
    let activity = pool.activity();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(&activity)?)
        .title(status_text(&activity))
        .tooltip(status_text(&activity))
        .menu(&menu(app, pool, 0)?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu)
        .build(app)?;
    Ok(())
}

/// Brings the tray in line with the pool. Failures are logged: a missing tray host (no
/// StatusNotifier on the desktop) must not disturb the engine.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, pool: &Pool, to_review: u64) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let activity = pool.activity();
    let text = status_text(&activity);
    let updated = icon(&activity)
        .and_then(|image| tray.set_icon(Some(image)))
        .and_then(|()| tray.set_title(Some(&text)))
        .and_then(|()| tray.set_tooltip(Some(&text)))
        .and_then(|()| menu(app, pool, to_review))
        .and_then(|menu| tray.set_menu(Some(menu)));
    if let Err(err) = updated {
        tracing::warn!(%err, "cannot update the tray");
    }
}

/// A desktop notification for a failed index run or a lost database file, where the desktop
/// offers them.
pub fn notify_failure<R: Runtime>(app: &AppHandle<R>, event: &Event) {
    if app.try_state::<tauri_plugin_notification::Notification<R>>().is_none() {
        return;
    }
    let error = event.detail.error().unwrap_or("unknown error");
    let title = match event.kind() {
        EventKind::DatabaseLost => "Annal cannot save any more: restart it".to_owned(),
        _ => format!("Annal: indexing {} failed", event.project),
    };
    let shown = app.notification().builder().title(title).body(error).show();
    if let Err(err) = shown {
        tracing::info!(%err, "no desktop notification for the failure");
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    let dashboard = app.state::<Dashboard>().inner().clone();
    if let Some(project) = id.strip_prefix("reindex:") {
        let project = project.to_owned();
        tauri::async_runtime::spawn(async move {
            if let Err(err) = dashboard.reindex(&project).await {
                tracing::warn!(%project, %err, "re-index from the tray refused");
            }
        });
    } else if let Some(project) = id.strip_prefix("pause:") {
        let project = project.to_owned();
        let watching = dashboard.watching(&project).unwrap_or(true);
        tauri::async_runtime::spawn(async move {
            if let Err(err) = dashboard.set_watching(&project, !watching).await {
                tracing::warn!(%project, %err, "cannot change watching from the tray");
            }
        });
    } else {
        match id {
            "open" => crate::show_dashboard(app, None),
            "connect" => crate::show_dashboard(app, Some("#connect")),
            "review" => crate::show_dashboard(app, Some("#review")),
            "browser" => open_in_browser(app),
            "autostart" => toggle_autostart(app),
            "quit" => app.exit(0),
            _ => {}
        }
    }
}

/// Opens the browser dashboard signed in, through a one-time sign-in URL (the browser gets a
/// session cookie; the URL is useless afterwards).
fn open_in_browser<R: Runtime>(app: &AppHandle<R>) {
    let Some(running) = app.try_state::<crate::engine::Running>() else { return };
    let config = running.pool().config();
    let data_dir = config.snapshot().data_dir(config.paths());
    std::thread::spawn(move || match annal::http::auth::sign_in_url(&data_dir) {
        Ok(Some(url)) => {
            if let Err(err) = std::process::Command::new("xdg-open").arg(&url).status() {
                tracing::warn!(%err, "cannot start a browser for the dashboard");
            }
        }
        Ok(None) => tracing::warn!("the HTTP endpoint is not running; see the log"),
        Err(err) => tracing::warn!(%err, "cannot make a sign-in URL"),
    });
}

fn toggle_autostart<R: Runtime>(app: &AppHandle<R>) {
    let launcher = app.autolaunch();
    let changed = match launcher.is_enabled() {
        Ok(true) => launcher.disable(),
        Ok(false) => launcher.enable(),
        Err(err) => Err(err),
    };
    if let Err(err) = changed {
        tracing::warn!(%err, "cannot change start at login");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_the_projects_and_the_error() {
        assert_eq!(status_text(&Activity::Idle), "Annal: idle");
        let busy = Activity::Indexing { projects: vec!["a".into(), "b".into()], files_done: 7 };
        assert_eq!(status_text(&busy), "Annal: indexing a, b (7 files done)");
        let failed = Activity::Failed { project: "web".into(), error: "gone".into() };
        assert_eq!(status_text(&failed), "Annal: indexing web failed: gone");
    }

    #[test]
    fn the_review_line_counts_what_waits() {
        assert_eq!(review_text(0), "Nothing to review");
        assert_eq!(review_text(1), "1 memory to review…");
        assert_eq!(review_text(12), "12 memories to review…");
    }
}
