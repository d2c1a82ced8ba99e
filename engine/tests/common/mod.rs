//! What several engine tests share.

pub mod fixture_queries;
pub mod typescript;
