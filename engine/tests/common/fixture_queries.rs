//! A query table with two queries the real one lacks, in the `dashboard_queries!` format. Each
//! package's tests expand their generator over it (the TypeScript client here, HTTP routes in
//! `annal`, Tauri commands in `annal-desktop`) to show that one declaration reaches all three.

/// Calls `$then` with `[extra tokens]` and the fixture's table.
macro_rules! fixture_queries {
    ($($then:ident)::+ [$($extra:tt)*]) => {
        $($then)::+! {
            [$($extra)*]
            echo_filter: read GET "/api/projects/{project}/echo/{id}" [project, id]
                query(params: ::annal_engine::dashboard::ListParams) -> Vec<String>, OK;
            forget_selected: write POST "/api/projects/{project}/forget" [project]
                body(selection: ::annal_engine::dashboard::Selection)
                -> ::annal_engine::dashboard::Deleted, CREATED;
        }
    };
}
pub(crate) use fixture_queries;
