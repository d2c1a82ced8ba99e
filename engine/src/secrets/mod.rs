//! The secret filter: finds credentials in text an agent or a file is about to put in the
//! store — provider tokens by their published shapes, JWTs, PEM private keys, passwords in
//! URLs and high-entropy values of `password:`/`token=`-style assignments — and redacts them to
//! `[redacted:<kind>]`.
//!
//! Nothing this module returns holds a secret: a [`Finding`] is a kind and a byte range, and
//! [`Refused`] names kinds and positions only, so a finding can go into a reply, an event or a
//! log line as it is.
//!
//! Every rule is a `regex` pattern (linear in the text; see `rules` for how the patterns also
//! keep a whole scan linear, not just each search), so a megabyte of pasted text costs
//! milliseconds, not an unbounded backtrack.

mod pem;
mod rules;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// What a secret is, as named in `[redacted:<kind>]` and in replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKey,
    /// An AWS secret access key, recognised by its label (`aws_secret_access_key = …`).
    AwsSecretKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A GitLab token (`glpat-` and its siblings).
    GitlabToken,
    /// A Slack token (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, …).
    SlackToken,
    /// The secret path of a Slack incoming-webhook URL.
    SlackWebhook,
    /// A Stripe live secret or restricted key (`sk_live_`, `rk_live_`).
    StripeKey,
    /// An OpenAI API key (`sk-…`, `sk-proj-…`).
    OpenaiKey,
    /// An Anthropic API key (`sk-ant-…`).
    AnthropicKey,
    /// A Google API key (`AIza…`).
    GoogleApiKey,
    /// A JSON Web Token.
    Jwt,
    /// A PEM private key block, BEGIN through END.
    PrivateKey,
    /// The password of a `scheme://user:password@host` URL.
    UrlPassword,
    /// A high-entropy value labelled as a password, secret, token or API key.
    Credential,
}

impl SecretKind {
    /// Every kind, in the order of the rules table.
    pub const ALL: [SecretKind; 14] = [
        Self::AwsAccessKey,
        Self::AwsSecretKey,
        Self::GithubToken,
        Self::GitlabToken,
        Self::SlackToken,
        Self::SlackWebhook,
        Self::StripeKey,
        Self::OpenaiKey,
        Self::AnthropicKey,
        Self::GoogleApiKey,
        Self::Jwt,
        Self::PrivateKey,
        Self::UrlPassword,
        Self::Credential,
    ];

    /// The kebab-case name, as in `[redacted:<kind>]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsAccessKey => "aws-access-key",
            Self::AwsSecretKey => "aws-secret-key",
            Self::GithubToken => "github-token",
            Self::GitlabToken => "gitlab-token",
            Self::SlackToken => "slack-token",
            Self::SlackWebhook => "slack-webhook",
            Self::StripeKey => "stripe-key",
            Self::OpenaiKey => "openai-key",
            Self::AnthropicKey => "anthropic-key",
            Self::GoogleApiKey => "google-api-key",
            Self::Jwt => "jwt",
            Self::PrivateKey => "private-key",
            Self::UrlPassword => "url-password",
            Self::Credential => "credential",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret found in a text: its kind and the byte range of the secret itself (in
/// `password=…` only the value). It holds no part of the text, so printing it (`Debug`,
/// `Display`) cannot leak the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: SecretKind,
    /// Byte offset of the secret's first byte; always a char boundary.
    pub start: usize,
    /// Byte offset just past the secret; always a char boundary.
    pub end: usize,
}

impl Finding {
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at bytes {}..{}", self.kind, self.start, self.end)
    }
}

/// A text with its secrets replaced by `[redacted:<kind>]`, and what was replaced. The
/// findings' offsets are in the original text. Borrowed when nothing was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'a> {
    pub text: Cow<'a, str>,
    pub findings: Vec<Finding>,
}

/// What a write does with text that holds a secret: config `secrets: redact | refuse | allow`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Store the text with each secret replaced by `[redacted:<kind>]`.
    #[default]
    Redact,
    /// Refuse the write, naming each secret's kind and position.
    Refuse,
    /// Store the text as it is.
    Allow,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redact => "redact",
            Self::Refuse => "refuse",
            Self::Allow => "allow",
        }
    }

    /// `text` as this policy lets it be stored: redacted, refused when it holds a secret, or
    /// (allow) as it is without scanning it.
    pub fn apply(self, text: &str) -> Result<Redacted<'_>, Refused> {
        match self {
            Self::Redact => Ok(redact(text)),
            Self::Refuse => {
                let findings = scan(text);
                if findings.is_empty() {
                    Ok(Redacted { text: Cow::Borrowed(text), findings })
                } else {
                    Err(Refused { findings })
                }
            }
            Self::Allow => Ok(Redacted { text: Cow::Borrowed(text), findings: Vec::new() }),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A write refused under [`Policy::Refuse`]: the kinds and positions of the secrets, never
/// the secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(&self.findings))]
pub struct Refused {
    /// Never empty.
    pub findings: Vec<Finding>,
}

/// Findings listed at most this many, then counted, so a pasted dump of keys makes a short
/// error.
const LISTED: usize = 5;

fn describe(findings: &[Finding]) -> String {
    let mut out = String::from("the text holds a secret: ");
    for (n, finding) in findings.iter().take(LISTED).enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&finding.to_string());
    }
    if findings.len() > LISTED {
        out.push_str(&format!(" and {} more", findings.len() - LISTED));
    }
    out
}

/// The secrets in `text`, in order, none overlapping. Where two rules' matches overlap they
/// merge into one finding covering both, named by the longer match (on a tie, by the rule
/// earlier in the table, the more specific one), so no part of either is left unredacted.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut candidates = rules::candidates(text);
    if candidates.is_empty() {
        return Vec::new();
    }
    // By start, the longest first, then the table's order.
    candidates.sort_by_key(|c| (c.span.start, std::cmp::Reverse(c.span.len()), c.rule));
    let mut findings = Vec::new();
    let mut iter = candidates.into_iter();
    let Some(first) = iter.next() else { return findings };
    let mut span = first.span.clone();
    let mut best = first;
    for candidate in iter {
        if candidate.span.start < span.end {
            span.end = span.end.max(candidate.span.end);
            let longer = candidate.span.len() > best.span.len()
                || (candidate.span.len() == best.span.len() && candidate.rule < best.rule);
            if longer {
                best = candidate;
            }
        } else {
            findings.push(Finding { kind: best.kind, start: span.start, end: span.end });
            span = candidate.span.clone();
            best = candidate;
        }
    }
    findings.push(Finding { kind: best.kind, start: span.start, end: span.end });
    findings
}

/// `text` with every secret [`scan`] finds replaced by `[redacted:<kind>]`. Redacting the
/// result again finds nothing.
pub fn redact(text: &str) -> Redacted<'_> {
    let findings = scan(text);
    if findings.is_empty() {
        return Redacted { text: Cow::Borrowed(text), findings };
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for finding in &findings {
        out.push_str(&text[at..finding.start]);
        out.push_str("[redacted:");
        out.push_str(finding.kind.as_str());
        out.push(']');
        at = finding.end;
    }
    out.push_str(&text[at..]);
    Redacted { text: Cow::Owned(out), findings }
}
