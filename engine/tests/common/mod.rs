//! What several engine tests share.

pub mod filler;
pub mod fixture_queries;
pub mod typescript;
