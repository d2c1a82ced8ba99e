//! The rules table: one line per detector — the kind it reports, a `regex` pattern, and the
//! check a match must pass — and the checks.
//!
//! No published crate fit: the ones that redact report no kinds or positions, and the ones
//! that scan are CLIs over git history (with their own rule engines and dependency trees).
//!
//! Each search of a `regex` pattern is linear, but a scan is many searches, and a search that
//! reads far past the match it returns makes the next one read that stretch again (quadratic
//! over a text of many near-matches). So every repetition below runs over a class that stops
//! at whitespace, a quote or the rule's own delimiter, and nothing is lazy (`.*?`): a search
//! never reads much past its match. The PEM rule, whose block spans lines, finds only the
//! BEGIN line by pattern; `pem` walks to the END line without a regex and stops at the next
//! BEGIN, so each byte is walked once.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::{SecretKind, pem};

struct Rule {
    kind: SecretKind,
    /// The secret is the capture group `s` when the pattern has one, else the whole match.
    pattern: &'static str,
    check: Check,
}

/// What a match must also be, beyond its shape.
#[derive(Clone, Copy)]
enum Check {
    /// Not a documented example or a placeholder: see [`not_example`].
    NotExample,
    /// [`Check::NotExample`], and upper and lower case after the prefix (GitLab's 20-character
    /// bodies: words joined by dashes are prose, not a token).
    Mixed,
    /// [`Check::NotExample`], and a run of 16 or more letters and digits mixing upper case,
    /// lower case and digits, which every random key has and `sk-learn-style-words` has not.
    Random,
    /// The first segment decodes to a JSON object with an `alg` member.
    Jwt,
    /// A BEGIN line: the block through its END line, if it holds key material.
    PemBlock,
    /// Not a placeholder (`${DB_PASSWORD}`, `<password>`, `password`).
    UrlPassword,
    /// A labelled value that looks like a secret: see [`credential`].
    Credential,
}

// The table's order is the tie-break between rules matching the same span: the more specific
// rule first (Anthropic's `sk-ant-` before OpenAI's `sk-`, every provider before the
// label-based rules). `(?-u:\b)` is an ASCII word boundary, which the DFA handles on any text
// (a Unicode one makes it give up on non-ASCII input).
const RULES: &[Rule] = &[
    Rule {
        kind: SecretKind::AwsAccessKey,
        // Key ids are base32 after the prefix. AKIA: long-term keys; ASIA: temporary (STS).
        pattern: r"(?-u:\b)(?:AKIA|ASIA)[A-Z2-7]{16}(?-u:\b)",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::AwsSecretKey,
        // 40 base64 characters are everywhere (hashes), so only a labelled one:
        // `aws_secret_access_key = …` (credentials file, env), `"SecretAccessKey": "…"` (STS).
        pattern: concat!(
            r"(?i-u:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)",
            r#"\\?["']?[ \t]*(?::=|=>|[:=])[ \t]*\\?["']?"#,
            r"(?P<s>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        ),
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::GithubToken,
        // Classic tokens are 36 characters after the prefix (GitHub allows them to grow);
        // fine-grained ones are `github_pat_` + 22 + `_` + 59.
        pattern: r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})(?-u:\b)",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::GitlabToken,
        // Personal, deploy, runner, trigger, feed and SCIM tokens; the newer format appends
        // `.01.<suffix>`.
        pattern: r"(?-u:\b)gl(?:pat|dt|rt|ptt|ft|soat)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+){0,2}",
        check: Check::Mixed,
    },
    Rule {
        kind: SecretKind::SlackToken,
        // Bot, user, app, refresh and the rotating `xoxe` forms, all with a numeric team or
        // user id first (Slack's docs' `xoxb-not-a-real-token` has none).
        pattern: r"(?-u:\b)(?:xoxe\.)?xox[abeposr]-[0-9]+-[A-Za-z0-9-]{8,}",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::SlackWebhook,
        // The path is the credential; the host stays readable.
        pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{20,})",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::StripeKey,
        // Live secret and restricted keys only. `sk_test_`/`rk_test_` keys reach only Stripe's
        // test mode (no real charges, payouts or customers) and Stripe's own docs and every
        // integration's fixtures and CI configs are full of them: redacting them would cost
        // real notes and protect nothing.
        pattern: r"(?-u:\b)[sr]k_live_[A-Za-z0-9]{20,}(?-u:\b)",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::AnthropicKey,
        pattern: r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{20,}",
        check: Check::Random,
    },
    Rule {
        kind: SecretKind::OpenaiKey,
        // Legacy `sk-` + 48, project `sk-proj-…`, service-account `sk-svcacct-…`.
        pattern: r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}",
        check: Check::Random,
    },
    Rule {
        kind: SecretKind::GoogleApiKey,
        pattern: r"(?-u:\b)(?P<s>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
        check: Check::NotExample,
    },
    Rule {
        kind: SecretKind::Jwt,
        // `eyJ` is base64url of `{"`. An unsigned token (empty third segment) authorises
        // nothing anywhere sane, so the signature is required.
        pattern: r"(?-u:\b)eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}",
        check: Check::Jwt,
    },
    Rule {
        kind: SecretKind::PrivateKey,
        pattern: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        check: Check::PemBlock,
    },
    Rule {
        kind: SecretKind::UrlPassword,
        // `scheme://user:password@host`; only the password is the secret. Neither part can
        // hold `/`, `@` or whitespace, so `https://host:8080/path` never matches.
        pattern: r#"://[^\s:/?#@"'<>\\]*:(?P<s>[^\s/?#@"'<>\\]+)@"#,
        check: Check::UrlPassword,
    },
    Rule {
        kind: SecretKind::Credential,
        // A label ending in one of these words, a separator (`=`, `:`, `:=`, `=>`, quoted or
        // escaped as in JSON inside JSON), then the value up to whitespace, a quote or a
        // comma, not starting with `:` (`Token::Ident` is a path). Each word in lower,
        // capitalised or upper case (`password`, `dbPassword`, `DB_PASSWORD`) rather than
        // `(?i)`: fixed-case literals let the search skip ahead by them, where the
        // case-insensitive set made it read every byte, 15 times slower. A bare `key` is no
        // label (`primary_key`, `sort_key`): it must follow a qualifier (`api_key`, `apiKey`,
        // `x-api-key`), see [`qualified_key`].
        pattern: concat!(
            r"(?:[Pp]ass(?:word|wd|phrase)|PASS(?:WORD|WD|PHRASE)|[Ss]ecret|SECRET|[Tt]oken|TOKEN",
            r"|[Cc]redentials?|CREDENTIALS?|[Aa]uth|AUTH|[Kk]ey|KEY)",
            r#"\\?["'`]?[ \t]*(?::=|=>|[:=])[ \t]*\\?["'`]?"#,
            r#"(?P<s>[^\s"'`\\,;:][^\s"'`\\,;]*)"#,
        ),
        check: Check::Credential,
    },
    Rule {
        kind: SecretKind::Credential,
        // An HTTP `Authorization: Bearer …` credential, as pasted from a curl command.
        pattern: r"(?-u:\b)(?i-u:bearer)[ \t]+(?P<s>[A-Za-z0-9._~+/-]+=*)",
        check: Check::Credential,
    },
];

/// The table's patterns, compiled once.
static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    RULES
        .iter()
        // The patterns are constants: any test that scans compiles them all.
        .map(|rule| Regex::new(rule.pattern).expect("a secret rule's pattern compiles"))
        .collect()
});

/// One rule's match that passed its check, before overlapping matches merge.
#[derive(Debug)]
pub(super) struct Candidate {
    pub kind: SecretKind,
    pub span: Range<usize>,
    /// Index in the table, the tie-break.
    pub rule: usize,
}

pub(super) fn candidates(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (index, (rule, regex)) in RULES.iter().zip(COMPILED.iter()).enumerate() {
        for caps in regex.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let secret = caps.name("s").unwrap_or(whole);
            if let Some(span) = rule.check.apply(text, whole.start(), secret.range()) {
                out.push(Candidate { kind: rule.kind, span, rule: index });
            }
        }
    }
    out
}

impl Check {
    /// The secret's span if the match (from `start`) passes, possibly moved (a PEM block's
    /// end, an unquoted value's trailing punctuation).
    fn apply(self, text: &str, start: usize, span: Range<usize>) -> Option<Range<usize>> {
        let value = &text[span.clone()];
        let pass = match self {
            Self::NotExample => not_example(value),
            Self::Mixed => {
                let body = value.split_once('-').map_or(value, |(_, body)| body);
                not_example(value)
                    && body.bytes().any(|b| b.is_ascii_uppercase())
                    && body.bytes().any(|b| b.is_ascii_lowercase())
            }
            Self::Random => not_example(value) && has_random_run(value),
            Self::Jwt => jwt_header(value),
            Self::PemBlock => return pem::block(text, span),
            Self::UrlPassword => {
                value.chars().count() >= MIN_URL_PASSWORD
                    && !is_placeholder(value)
                    && !is_placeholder_word(value)
            }
            Self::Credential => {
                let value = value.trim_end_matches(['.', ')', ']', '}', '>', '|']);
                let pass = credential(value)
                    && !in_url_userinfo(text, start)
                    && (!text[start..].starts_with(['k', 'K']) || qualified_key(text, start));
                return pass.then(|| span.start..span.start + value.len());
            }
        };
        pass.then_some(span)
    }
}

/// Below this many bits per character a provider-shaped match is a placeholder
/// (`ghp_xxxxxxxx…`, `AKIAXXXXXXXXXXXXXXXX`, `T00000000/B00000000/XXXX…`); a random token's
/// characters run 4–5 bits.
const MIN_TOKEN_ENTROPY: f64 = 3.0;

/// A provider-shaped match that is a real token rather than a documented example or a
/// placeholder. Examples say so: AWS's documented `AKIAIOSFODNN7EXAMPLE` and
/// `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY` are public and authorise nothing, and a random
/// token holds `example` (any case) with odds of about 1 in 10¹⁰ per position, so skipping
/// them loses no real key and keeps docs quoting AWS's examples intact.
fn not_example(value: &str) -> bool {
    !contains_ignore_case(value, "example") && entropy(value) >= MIN_TOKEN_ENTROPY
}

/// A run of at least 16 ASCII letters and digits holding upper case, lower case and a digit.
fn has_random_run(value: &str) -> bool {
    value.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        run.len() >= 16
            && run.bytes().any(|b| b.is_ascii_uppercase())
            && run.bytes().any(|b| b.is_ascii_lowercase())
            && run.bytes().any(|b| b.is_ascii_digit())
    })
}

fn jwt_header(token: &str) -> bool {
    let Some((header, _)) = token.split_once('.') else { return false };
    let Some(json) = base64url_decode(header) else { return false };
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json)
        .is_ok_and(|header| header.contains_key("alg"))
}

/// Unpadded base64url, as JWT segments are.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Shortest labelled value taken for a secret, in characters.
const MIN_CREDENTIAL_LEN: usize = 8;
/// Least Shannon entropy (bits per character) of a labelled value with a digit or a symbol.
const MIN_CREDENTIAL_ENTROPY: f64 = 2.5;
/// Least entropy of a labelled value of letters only (and `-_.`) that is not made of words
/// (see [`is_identifier`]): random letters of 20 or more clear it.
const MIN_LETTERS_ENTROPY: f64 = 4.0;

/// A labelled value (`password: …`, `token=…`, `Bearer …`) that looks like a secret rather
/// than a placeholder, a reference to one, code or words. The thresholds are set on the
/// labelled list in `engine/tests/secrets.rs`.
fn credential(value: &str) -> bool {
    if value.chars().count() < MIN_CREDENTIAL_LEN
        || is_placeholder(value)
        || is_reference(value)
        || is_identifier(value)
    {
        return false;
    }
    let letters = value.chars().any(char::is_alphabetic);
    let digits = value.bytes().any(|b| b.is_ascii_digit());
    let symbols = value.chars().any(|c| !c.is_alphanumeric() && !matches!(c, '-' | '_' | '.'));
    if !letters {
        // Numbers, dates, versions, durations.
        return false;
    }
    let bits = entropy(value);
    if digits || symbols { bits >= MIN_CREDENTIAL_ENTROPY } else { bits >= MIN_LETTERS_ENTROPY }
}

/// A value made of words, as identifiers, type names and protocol constants are
/// (`CancellationToken`, `GITHUB_TOKEN`, `_bindgen_ty_7`, `progress-1`,
/// `grant-type:jwt-bearer`, `kubernetes-secret-name`): split at `-_.:/` and where camel case
/// starts a word, every piece is a word of two or more letters (lower, capitalised or upper
/// case) or a number of at most four digits. Random tokens fail it: they mix letters and
/// digits within a piece and leave one-letter pieces (`kQzPw` is `k`, `Qz`, `Pw`).
/// Passwords like `hunter2abc` or `Summer2024` mix within a piece too; a passphrase of words
/// (`correcthorsebatterystaple`) passes, and is missed.
fn is_identifier(value: &str) -> bool {
    value.trim_end_matches(['=', '!', '?']).split(['-', '_', '.', ':', '/']).all(|part| {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.len() <= 4
        } else {
            part.bytes().all(|b| b.is_ascii_alphabetic())
                && camel_words(part).all(|word| word.len() >= 2)
        }
    })
}

/// `part` (ASCII letters) cut where a word starts: before an upper-case letter that follows a
/// lower-case one (`dbPassword`), and before the last of a run of capitals that a lower-case
/// letter follows (`HTTPServer` is `HTTP`, `Server`).
fn camel_words(part: &str) -> impl Iterator<Item = &str> {
    let bytes = part.as_bytes();
    let mut cuts = vec![0];
    for i in 1..bytes.len() {
        let (prev, here) = (bytes[i - 1], bytes[i]);
        let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        if (prev.is_ascii_lowercase() && here.is_ascii_uppercase())
            || (prev.is_ascii_uppercase() && here.is_ascii_uppercase() && next_lower)
        {
            cuts.push(i);
        }
    }
    cuts.push(bytes.len());
    (0..cuts.len() - 1).map(move |i| &part[cuts[i]..cuts[i + 1]])
}

/// Words that mark a value as a stand-in (`your-api-key-here`, `changeme123`, `dummy_token`).
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "your",
    "redacted",
    "dummy",
    "sample",
    "xxxx",
    "todo",
    "fixme",
    "replace",
];

/// Interpolations, templates and stand-ins: `${VAR}`, `$VAR`, `<your-token>`,
/// `{{ .Values.password }}`, `%(password)s`, `%TOKEN%`, `[redacted:…]`, YAML anchors, aliases
/// and tags (`&x`, `*x`, `!vault`), `****`, and values naming themselves placeholders.
fn is_placeholder(value: &str) -> bool {
    value.starts_with(['$', '<', '{', '%', '[', '&', '*', '!'])
        || PLACEHOLDER_WORDS.iter().any(|word| contains_ignore_case(value, word))
}

/// Shortest URL password taken for a secret: URL parsers' tests and docs are full of
/// `user:p@host` and `a:b@c`, and two characters protect nothing.
const MIN_URL_PASSWORD: usize = 3;

/// A URL password that names itself (`user:password@`, `user:pass@`).
fn is_placeholder_word(value: &str) -> bool {
    ["password", "passwd", "pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
}

/// A value that names where the secret is rather than being it: code (`getenv(`,
/// `Option<String>`, `crate::KEY`), an object's field (`process.env.TOKEN`, `node.dot2_token`;
/// Google's `ya29.a0Af…` tokens start with a segment holding digits), a file path or a URL.
fn is_reference(value: &str) -> bool {
    let code = value.contains(['(', ')', '<', '>', '[', ']', '{', '}'])
        || value.contains("::")
        || value.contains("->");
    // An object's field: the first segment a name without digits (`node.dot2_token`), the
    // rest names (`!`, `?`: TypeScript's non-null assertion and optional chaining).
    let mut segments = value.trim_end_matches(['!', '?']).split('.');
    let first = segments.next().unwrap_or_default();
    let dotted = value.contains('.')
        && !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
        && segments.all(|segment| {
            !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    let path = value.starts_with(['/', '~']) || value.starts_with("./") || value.starts_with("../");
    code || dotted || path || value.contains("://")
}

/// What makes a `key` label a secret's: `api_key`, `apiKey`, `X-Api-Key`, `secretKey`.
const KEY_QUALIFIERS: &[&str] =
    &["api", "access", "secret", "private", "signing", "encryption", "master", "auth", "client"];

/// Whether the `key` label at `at` follows one of [`KEY_QUALIFIERS`], maybe joined by `_`,
/// `.` or `-`.
fn qualified_key(text: &str, at: usize) -> bool {
    let mut before = &text.as_bytes()[at.saturating_sub(16)..at];
    if let [rest @ .., b'_' | b'.' | b'-'] = before {
        before = rest;
    }
    KEY_QUALIFIERS.iter().any(|q| {
        before.len() >= q.len()
            && before[before.len() - q.len()..].eq_ignore_ascii_case(q.as_bytes())
    })
}

/// Whether `at` is inside a URL's `user:password` part, where a user name ending in a label
/// word (`https://x-access-token:…@github.com`) would make the value run on over the host:
/// the URL rule has that password. Looks back a bounded stretch, so a scan stays linear.
fn in_url_userinfo(text: &str, at: usize) -> bool {
    let mut from = at.saturating_sub(256);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let before = &text[from..at];
    before.rfind("://").is_some_and(|scheme| {
        !before[scheme + 3..].contains(|c: char| {
            c.is_whitespace() || matches!(c, '/' | '@' | '"' | '\'' | '?' | '#')
        })
    })
}

/// Shannon entropy of `text`'s characters, in bits per character.
fn entropy(text: &str) -> f64 {
    let mut chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    chars.sort_unstable();
    let total = chars.len() as f64;
    chars
        .chunk_by(|a, b| a == b)
        .map(|run| {
            let p = run.len() as f64 / total;
            -p * p.log2()
        })
        .sum()
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}
