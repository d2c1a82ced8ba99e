//! The dashboard's Tauri commands, generated from the engine's query declarations
//! (`annal_engine::dashboard_queries!`): each takes the path arguments and the input as named
//! arguments, calls one [`Dashboard`] function and hands back the result. Async, so no engine
//! work runs on the GTK thread.

use annal::dashboard::{Dashboard, DashboardError, ErrorReply};

/// What a command answers: the reply, or the error as `{kind, message}`.
pub type Reply<T> = Result<T, ErrorReply>;

pub fn reply<T>(result: Result<T, DashboardError>) -> Reply<T> {
    result.map_err(|err| ErrorReply::from(&err))
}

/// Defines one Tauri command per query of a table in the `dashboard_queries!` format, each
/// calling the `$dashboard` method of the query's name, and `handler()` for
/// `Builder::invoke_handler`. The app uses the real table; a test can pass its own.
#[macro_export]
macro_rules! query_commands {
    ([$dashboard:ty] $(
        $name:ident : $access:ident $method:ident $path:literal [$($arg:ident),*]
        $( $carrier:ident ( $input:ident : $input_ty:ty ) )? -> $reply:ty, $status:ident;
    )*) => {
        $(
            #[::tauri::command]
            async fn $name(
                dashboard: ::tauri::State<'_, $dashboard>,
                $($arg: String,)*
                $($input: $input_ty,)?
            ) -> $crate::commands::Reply<$reply> {
                $crate::commands::reply(dashboard.$name($(&$arg,)* $($input)?).await)
            }
        )*

        /// Every command, for `Builder::invoke_handler`.
        pub fn handler<R: ::tauri::Runtime>(
        ) -> impl Fn(::tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            ::tauri::generate_handler![$($name),*]
        }
    };
}

annal::dashboard_queries!(crate::query_commands[Dashboard]);
