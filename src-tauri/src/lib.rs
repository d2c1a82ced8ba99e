//! The Annal desktop app: the owner of the data dir while it runs. Setup takes the owner lock
//! (taking over from a headless `annal serve`), opens the one pool, manages it for the
//! dashboard's commands, serves agents (socket + HTTP) from the same pool, forwards engine
//! events to the webview and keeps the tray icon current. No business logic lives here.

pub mod commands;
mod engine;
mod tray;

use std::sync::Arc;

use tauri::{Manager as _, RunEvent, Runtime, WindowEvent};

pub use commands::handler;
pub use engine::forward_events;

/// Brings the dashboard window to the front, optionally at a view (`#connect`, …).
fn show_dashboard<R: Runtime>(app: &tauri::AppHandle<R>, view: Option<&str>) {
    let Some(window) = app.get_webview_window("main") else { return };
    if let Some(view) = view {
        let _ = window.eval(format!("location.hash = {view:?}"));
    }
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(annal::log_filter("info"))
        .init();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| show_dashboard(app, None)))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(handler())
        .setup(|app| {
            let running = match engine::start(app.handle()) {
                Ok(running) => running,
                Err(err) => {
                    // Nothing is open yet; a clear message beats Tauri's setup panic.
                    eprintln!("annal-desktop: {err:#}");
                    std::process::exit(1);
                }
            };
            tray::create(app.handle(), running.pool())?;
            // The menu's review count is a query: filled in once the tray exists.
            let (handle, pool) = (app.handle().clone(), Arc::clone(running.pool()));
            tauri::async_runtime::spawn(async move { engine::refresh_tray(&handle, &pool).await });
            app.manage(running);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window hides it: the app keeps serving agents from the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("annal-desktop: cannot start: {err}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event
            && let Some(running) = app.try_state::<engine::Running>()
        {
            running.stop();
        }
    });
}
