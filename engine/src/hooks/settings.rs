//! The `hooks:` section of the config and a project's overrides of it (`projects.<name>.hooks`).
//! Every value is checked when the config loads, so a hook never runs with a budget it cannot
//! keep or a bar outside the scores search reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the hooks inject and how long they may take. The defaults are the budgets and
/// the injection bar chosen on the recall evaluation (`cargo bench --bench hooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct HookSettings {
    /// Whether the hooks inject anything at all.
    pub enabled: bool,
    /// From the hook process's start to its output; past it the hook prints nothing.
    #[ts(type = "number")]
    pub budget_ms: u64,
    /// Estimated tokens the session-start brief may take.
    #[ts(type = "number")]
    pub brief_tokens: u64,
    /// Estimated tokens one prompt's recall may take.
    #[ts(type = "number")]
    pub recall_tokens: u64,
    /// Memories one prompt's recall may inject.
    #[ts(type = "number")]
    pub recall_max: u64,
    /// Only results at least this similar to the prompt (cosine) are injected.
    pub min_score: f32,
    /// Whether indexed file chunks may be injected too (after agent memories).
    pub include_files: bool,
    /// Keys a newer version added; kept so a save does not drop them.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

/// The injection bar: the cosine with the best F0.5 (precision weighted over recall: a wrong
/// memory costs every turn it sits in the context) on the recall evaluation, `cargo bench
/// --bench hooks -- --eval` (0.743 precision, 0.358 recall, 96% of negative prompts quiet;
/// 0.45 gave 0.564 / 0.481, 0.55 gave 0.800 / 0.284). The hooks test guards the numbers. On
/// the large evaluation's calibration curve this is the strict point beside search's
/// [`crate::search::RELEVANCE_BAR`]: 88% of unanswerable questions quiet against 72%.
pub const DEFAULT_MIN_SCORE: f32 = 0.50;

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            budget_ms: 400,
            brief_tokens: 600,
            recall_tokens: 400,
            recall_max: 3,
            min_score: DEFAULT_MIN_SCORE,
            include_files: false,
            extra: BTreeMap::new(),
        }
    }
}

/// A project's own values; what it leaves out comes from the `hooks:` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct HookOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "number", optional)]
    pub budget_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "number", optional)]
    pub brief_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "number", optional)]
    pub recall_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "number", optional)]
    pub recall_max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_files: Option<bool>,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

/// Ranges the values must fall in; the message names the key.
const BUDGET_MS: (u64, u64) = (50, 10_000);
const TOKENS: (u64, u64) = (50, 8_000);
const RECALL_MAX: (u64, u64) = (1, 10);

fn in_range(key: &str, value: u64, (low, high): (u64, u64)) -> Result<(), String> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(format!("{key} must be between {low} and {high}, got {value}"))
    }
}

fn score_in_range(key: &str, value: f32) -> Result<(), String> {
    if (-1.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{key} must be between -1 and 1, got {value}"))
    }
}

impl HookSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every value in its range; the error names the key under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        in_range(&format!("{prefix}.budget_ms"), self.budget_ms, BUDGET_MS)?;
        in_range(&format!("{prefix}.brief_tokens"), self.brief_tokens, TOKENS)?;
        in_range(&format!("{prefix}.recall_tokens"), self.recall_tokens, TOKENS)?;
        in_range(&format!("{prefix}.recall_max"), self.recall_max, RECALL_MAX)?;
        score_in_range(&format!("{prefix}.min_score"), self.min_score)
    }

    /// These settings with a project's overrides applied.
    pub fn with(&self, overrides: &HookOverrides) -> Self {
        Self {
            enabled: overrides.enabled.unwrap_or(self.enabled),
            budget_ms: overrides.budget_ms.unwrap_or(self.budget_ms),
            brief_tokens: overrides.brief_tokens.unwrap_or(self.brief_tokens),
            recall_tokens: overrides.recall_tokens.unwrap_or(self.recall_tokens),
            recall_max: overrides.recall_max.unwrap_or(self.recall_max),
            min_score: overrides.min_score.unwrap_or(self.min_score),
            include_files: overrides.include_files.unwrap_or(self.include_files),
            extra: self.extra.clone(),
        }
    }
}

impl HookOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Every value given in its range; the error names the key under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        let checks = [
            (self.budget_ms, "budget_ms", BUDGET_MS),
            (self.brief_tokens, "brief_tokens", TOKENS),
            (self.recall_tokens, "recall_tokens", TOKENS),
            (self.recall_max, "recall_max", RECALL_MAX),
        ];
        for (value, key, range) in checks {
            if let Some(value) = value {
                in_range(&format!("{prefix}.{key}"), value, range)?;
            }
        }
        match self.min_score {
            Some(score) => score_in_range(&format!("{prefix}.min_score"), score),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let global = HookSettings { recall_max: 5, ..HookSettings::default() };
        let project = HookOverrides { enabled: Some(false), ..HookOverrides::default() };
        let effective = global.with(&project);
        assert!(!effective.enabled);
        assert_eq!(effective.recall_max, 5);
        assert_eq!(effective.brief_tokens, 600);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let bad = HookSettings { budget_ms: 5, ..HookSettings::default() };
        let err = bad.validate("hooks").expect_err("too short");
        assert!(err.contains("hooks.budget_ms"), "{err}");
        let bad = HookOverrides { min_score: Some(1.5), ..HookOverrides::default() };
        let err = bad.validate("projects.x.hooks").expect_err("bar");
        assert!(err.contains("projects.x.hooks.min_score"), "{err}");
        let nan = HookOverrides { min_score: Some(f32::NAN), ..HookOverrides::default() };
        assert!(nan.validate("hooks").is_err());
        assert!(HookSettings::default().validate("hooks").is_ok());
    }
}
