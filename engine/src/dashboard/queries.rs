//! Every dashboard query, declared once. The HTTP routes (`annal`'s `http::api`), the desktop
//! app's Tauri commands and the page's TypeScript client (`ui/src/api.ts`, written by the
//! bindings test from [`queries`]) are all generated from [`dashboard_queries!`], so adding a
//! query means writing its [`Dashboard`](super::Dashboard) function and one line here.
//!
//! A line reads `name: read|write METHOD "path" [path args] carrier(input: Type) -> Reply,
//! STATUS;` where
//! - `name` is the `Dashboard` method, the Tauri command and (in camelCase) the TypeScript
//!   function; the method takes the path arguments as `&str`, then the input, and returns
//!   `Result<Reply, DashboardError>`;
//! - `write` marks a query that changes something (never a `GET`);
//! - the path arguments are the path's `{placeholders}`, in order;
//! - the input, when there is one, travels as the `query` string or the JSON `body` over HTTP
//!   and as a named argument over Tauri;
//! - `STATUS` is the HTTP success status; `NO_CONTENT` and `ACCEPTED` answer without a body.
//!
//! Types are written with `$crate::` paths so the callbacks can expand anywhere.

/// Calls the macro `$then` with `[extra tokens]` followed by the query table (see the module
/// docs for the line format).
#[macro_export]
macro_rules! dashboard_queries {
    ($($then:ident)::+ [$($extra:tt)*]) => {
        $($then)::+! {
            [$($extra)*]
            projects: read GET "/api/projects" []
                -> Vec<$crate::pool::IndexStatus>, OK;
            project_status: read GET "/api/projects/{project}/status" [project]
                -> $crate::pool::IndexStatus, OK;
            memories: read GET "/api/projects/{project}/memories" [project]
                query(params: $crate::dashboard::ListParams) -> $crate::store::Page, OK;
            search: read GET "/api/projects/{project}/search" [project]
                query(params: $crate::dashboard::SearchParams)
                -> $crate::dashboard::SearchReply, OK;
            create_memory: write POST "/api/projects/{project}/memories" [project]
                body(draft: $crate::dashboard::MemoryDraft) -> $crate::memories::Stored, CREATED;
            edit_memory: write PUT "/api/projects/{project}/memories/{id}" [project, id]
                body(edit: $crate::dashboard::MemoryEdit) -> $crate::memories::Updated, OK;
            delete_memory: write DELETE "/api/projects/{project}/memories/{id}" [project, id]
                -> (), NO_CONTENT;
            confirm_memory: write POST "/api/projects/{project}/memories/{id}/confirm"
                [project, id] -> $crate::memory::Memory, OK;
            review_inbox: read GET "/api/projects/{project}/review" [project]
                -> $crate::memories::Inbox, OK;
            resolve_review: write POST "/api/projects/{project}/review" [project]
                body(action: $crate::memories::ReviewAction) -> $crate::memories::Inbox, OK;
            chain: read GET "/api/projects/{project}/memories/{id}/chain" [project, id]
                -> Vec<$crate::memory::Memory>, OK;
            delete_selected: write POST "/api/projects/{project}/delete-selected" [project]
                body(selection: $crate::dashboard::Selection) -> $crate::dashboard::Deleted, OK;
            delete_matching: write POST "/api/projects/{project}/delete-matching" [project]
                body(matching: $crate::dashboard::Matching) -> $crate::dashboard::Deleted, OK;
            topics: read GET "/api/projects/{project}/topics" [project]
                -> Vec<$crate::store::TagCount>, OK;
            timeline: read GET "/api/projects/{project}/timeline" [project]
                -> Vec<$crate::store::DayCount>, OK;
            reindex: write POST "/api/projects/{project}/reindex" [project]
                -> (), ACCEPTED;
            watch_config: read GET "/api/projects/{project}/watch" [project]
                -> Option<$crate::dashboard::WatchConfig>, OK;
            configure_project: write PUT "/api/projects/{project}/watch" [project]
                body(edit: $crate::dashboard::WatchEdit) -> $crate::pool::InitReply, OK;
            hook_settings: read GET "/api/projects/{project}/hooks" [project]
                -> $crate::hooks::HookView, OK;
            configure_hooks: write PUT "/api/projects/{project}/hooks" [project]
                body(edit: $crate::hooks::HookOverrides) -> $crate::hooks::HookView, OK;
            recent_events: read GET "/api/events/recent" []
                -> Vec<$crate::events::Event>, OK;
            activity: read GET "/api/activity" []
                -> $crate::pool::Activity, OK;
            clients: read GET "/api/clients" []
                -> Vec<$crate::install::ClientStatus>, OK;
            connect_plan: read GET "/api/clients/plan" []
                query(params: $crate::dashboard::ConnectParams) -> $crate::install::Plan, OK;
            connect_apply: write POST "/api/clients/apply" []
                body(confirm: $crate::dashboard::ConnectConfirm) -> $crate::install::Plan, OK;
        }
    };
}

/// One query as the TypeScript generator (and the declaration's own checks) see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub name: &'static str,
    pub mutates: bool,
    pub method: &'static str,
    pub path: &'static str,
    pub path_args: Vec<&'static str>,
    pub input: Option<Input>,
    /// The reply's TypeScript type.
    pub reply: String,
    /// The HTTP success status's name (`OK`, `CREATED`, `NO_CONTENT`, `ACCEPTED`).
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: &'static str,
    pub carrier: Carrier,
    /// The input's TypeScript type.
    pub ts_type: String,
}

/// How an input travels over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Query,
    Body,
}

impl Query {
    /// Whether the HTTP answer carries the reply as JSON.
    pub fn answers_with_body(&self) -> bool {
        !matches!(self.status, "NO_CONTENT" | "ACCEPTED")
    }
}

/// Describes a query table as [`Query`] values; `dashboard_queries!(describe_queries [])`
/// describes the real one (see [`queries`]), a test can describe its own.
#[macro_export]
macro_rules! describe_queries {
    ([] $(
        $name:ident : $access:ident $method:ident $path:literal [$($arg:ident),*]
        $( $carrier:ident ( $input:ident : $input_ty:ty ) )? -> $reply:ty, $status:ident;
    )*) => {
        vec![$(
            $crate::dashboard::Query {
                name: stringify!($name),
                mutates: $crate::describe_queries!(@mutates $access),
                method: stringify!($method),
                path: $path,
                path_args: vec![$(stringify!($arg)),*],
                input: None $(.or(Some($crate::dashboard::Input {
                    name: stringify!($input),
                    carrier: $crate::describe_queries!(@carrier $carrier),
                    ts_type: <$input_ty as $crate::dashboard::TS>::name(),
                })))?,
                reply: <$reply as $crate::dashboard::TS>::name(),
                status: stringify!($status),
            }
        ),*]
    };
    (@mutates read) => { false };
    (@mutates write) => { true };
    (@carrier query) => { $crate::dashboard::Carrier::Query };
    (@carrier body) => { $crate::dashboard::Carrier::Body };
}

/// The dashboard's queries, in declaration order.
pub fn queries() -> Vec<Query> {
    crate::dashboard_queries!(crate::describe_queries[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_gets_and_writes_are_not() {
        for query in queries() {
            assert_eq!(query.method == "GET", !query.mutates, "{}", query.name);
            if query.method == "GET" {
                assert_ne!(query.input.as_ref().map(|i| i.carrier), Some(Carrier::Body));
            }
        }
    }

    #[test]
    fn path_arguments_are_the_paths_placeholders_in_order() {
        for query in queries() {
            let placeholders: Vec<&str> = query
                .path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(placeholders, query.path_args, "{}", query.path);
        }
    }

    #[test]
    fn each_name_and_each_route_is_declared_once() {
        let queries = queries();
        let mut names: Vec<_> = queries.iter().map(|q| q.name).collect();
        let mut routes: Vec<_> = queries.iter().map(|q| (q.method, q.path)).collect();
        names.sort_unstable();
        names.dedup();
        routes.sort_unstable();
        routes.dedup();
        assert_eq!((names.len(), routes.len()), (queries.len(), queries.len()));
    }
}
