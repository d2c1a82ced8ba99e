//! What several engine tests share.

pub mod fake_secrets;
pub mod filler;
pub mod fixture_queries;
pub mod large_eval;
pub mod typescript;
