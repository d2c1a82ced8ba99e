//! The dashboard's Tauri commands: each parses its arguments, calls one [`Dashboard`]
//! function and hands back the result. Async, so no engine work runs on the GTK thread.

use annal::dashboard::{
    Dashboard, DashboardError, Deleted, ErrorReply, ListParams, MemoryDraft, MemoryEdit,
    SearchParams, SearchReply, WatchConfig, WatchEdit,
};
use annal::events::Event;
use annal::memory::Memory;
use annal::pool::{Activity, IndexStatus, InitReply};
use annal::store::DayCount;
use annal::store::{Page, StoreOutcome};
use tauri::ipc::Invoke;
use tauri::{Runtime, State};

type Reply<T> = Result<T, ErrorReply>;

fn reply<T>(result: Result<T, DashboardError>) -> Reply<T> {
    result.map_err(|err| ErrorReply::from(&err))
}

/// Every command, for `Builder::invoke_handler`.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        projects,
        project_status,
        memories,
        search,
        create_memory,
        edit_memory,
        delete_memory,
        reindex,
        watch_config,
        configure_project,
        delete_selected,
        delete_matching,
        chain,
        timeline,
        recent_events,
        activity,
    ]
}

#[tauri::command]
async fn projects(dashboard: State<'_, Dashboard>) -> Reply<Vec<IndexStatus>> {
    reply(dashboard.projects().await)
}

#[tauri::command]
async fn project_status(dashboard: State<'_, Dashboard>, project: String) -> Reply<IndexStatus> {
    reply(dashboard.status(&project).await)
}

#[tauri::command]
async fn memories(
    dashboard: State<'_, Dashboard>,
    project: String,
    params: ListParams,
) -> Reply<Page> {
    reply(dashboard.memories(&project, params).await)
}

#[tauri::command]
async fn search(
    dashboard: State<'_, Dashboard>,
    project: String,
    params: SearchParams,
) -> Reply<SearchReply> {
    reply(dashboard.search(&project, params).await)
}

#[tauri::command]
async fn create_memory(
    dashboard: State<'_, Dashboard>,
    project: String,
    draft: MemoryDraft,
) -> Reply<StoreOutcome> {
    reply(dashboard.create(&project, draft).await)
}

#[tauri::command]
async fn edit_memory(
    dashboard: State<'_, Dashboard>,
    project: String,
    id: String,
    edit: MemoryEdit,
) -> Reply<Memory> {
    reply(dashboard.edit(&project, &id, edit).await)
}

#[tauri::command]
async fn delete_memory(dashboard: State<'_, Dashboard>, project: String, id: String) -> Reply<()> {
    reply(dashboard.delete(&project, &id).await)
}

#[tauri::command]
async fn reindex(dashboard: State<'_, Dashboard>, project: String) -> Reply<()> {
    reply(dashboard.reindex(&project).await)
}

#[tauri::command]
async fn recent_events(dashboard: State<'_, Dashboard>) -> Reply<Vec<Event>> {
    Ok(dashboard.recent_events())
}

#[tauri::command]
async fn activity(dashboard: State<'_, Dashboard>) -> Reply<Activity> {
    Ok(dashboard.activity())
}

#[tauri::command]
async fn watch_config(
    dashboard: State<'_, Dashboard>,
    project: String,
) -> Reply<Option<WatchConfig>> {
    Ok(dashboard.watch_config(&project))
}

#[tauri::command]
async fn configure_project(
    dashboard: State<'_, Dashboard>,
    project: String,
    edit: WatchEdit,
) -> Reply<InitReply> {
    reply(dashboard.configure(&project, edit).await)
}

#[tauri::command]
async fn delete_selected(
    dashboard: State<'_, Dashboard>,
    project: String,
    ids: Vec<String>,
) -> Reply<Deleted> {
    reply(dashboard.delete_selected(&project, ids).await)
}

#[tauri::command]
async fn delete_matching(
    dashboard: State<'_, Dashboard>,
    project: String,
    filter: ListParams,
    expected: usize,
) -> Reply<Deleted> {
    reply(dashboard.delete_matching(&project, filter, expected).await)
}

#[tauri::command]
async fn chain(dashboard: State<'_, Dashboard>, project: String, id: String) -> Reply<Vec<Memory>> {
    reply(dashboard.chain(&project, &id).await)
}

#[tauri::command]
async fn timeline(dashboard: State<'_, Dashboard>, project: String) -> Reply<Vec<DayCount>> {
    reply(dashboard.timeline(&project).await)
}
