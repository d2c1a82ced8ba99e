//! Secrets of real providers' shapes, made at run time so that no literal one sits in the
//! repository (push protection would flag it), for the engine's and the root crate's tests.

/// A GitHub token of the published shape, different per seed.
pub fn github_token(seed: u64) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let body: String = (0..36)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALNUM[(state % ALNUM.len() as u64) as usize])
        })
        .collect();
    format!("gh{}_{body}", "p")
}
