//! Placeholder: a helper is writing this benchmark.

fn main() {}
