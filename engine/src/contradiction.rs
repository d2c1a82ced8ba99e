//! Whether a new decision reads as a reversal of an older one it resembles. Similarity alone
//! cannot tell a reversal ("billing moves off PostgreSQL") from a refinement ("billing's
//! PostgreSQL migrations run in CI"): on the labelled pairs both sit in the same cosine range.
//! What tells them apart, without a language model, is how the new text is written: a reversal
//! says so ("no longer", "instead of", "switch to"), negates what the old one did not (or the
//! other way round), or changes a number the old one set.

/// Words and phrases with which a decision replaces an earlier one.
const REVERSAL_CUES: &[&str] = &[
    "no longer",
    "instead",
    "rather than",
    "replace",
    "switch",
    "moves off",
    "move off",
    "moved off",
    "migrate off",
    "migrate from",
    "migrated from",
    "drop ",
    "dropped",
    "remove",
    "stop ",
    "stopped",
    "deprecat",
    "retire",
    "abandon",
    "revert",
    "reverse",
    "anymore",
    "any more",
    "no more",
    "lifted",
    "turned off",
    "disable",
    "ban ",
    "banned",
    "forbid",
    "not allowed",
    "is gone",
    "are gone",
    "went away",
    "phase out",
    "phased out",
    "from now on",
    "now ",
];

const NEGATIONS: &[&str] = &["not", "never", "no", "without", "nor", "none", "nothing"];

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '.' || c == '%'))
        .map(|w| w.trim_matches(['.', '\'']).to_lowercase())
        .filter(|w| !w.is_empty())
}

fn negations(text: &str) -> usize {
    words(text).filter(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't")).count()
}

/// The numbers a text sets (`20`, `5%`, `1.3`), not the ones in names (`v2`, `s3`, `utf-8`).
fn numbers(text: &str) -> Vec<String> {
    words(text).filter(|w| w.starts_with(|c: char| c.is_ascii_digit())).collect()
}

/// Whether `new` reads as replacing `old` (both decisions about the same thing).
pub fn reads_as_reversal(new: &str, old: &str) -> bool {
    let lower = new.to_lowercase();
    if REVERSAL_CUES.iter().any(|cue| lower.contains(cue)) {
        return true;
    }
    if (negations(new) > 0) != (negations(old) > 0) {
        return true;
    }
    let (new_numbers, old_numbers) = (numbers(new), numbers(old));
    new_numbers.iter().any(|n| !old_numbers.contains(n))
        && old_numbers.iter().any(|n| !new_numbers.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversals_are_told_from_refinements() {
        let old = "The connection pool is capped at 20 connections per instance.";
        assert!(reads_as_reversal("Cap the connection pool at 5 connections per instance.", old));
        assert!(reads_as_reversal("We no longer cap the pool.", old));
        assert!(reads_as_reversal("Never cap the pool; PgBouncer handles it.", old));
        assert!(!reads_as_reversal("The pool's cap is read from POOL_MAX in config.toml.", old));
        assert!(!reads_as_reversal("Pool metrics go to the pool dashboard.", old));
    }
}
