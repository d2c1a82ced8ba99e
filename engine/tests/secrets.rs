//! The secret filter: each detector in the shapes agents store (a sentence, a `.env` line,
//! YAML, JSON, a markdown code block), the look-alikes it must leave alone, the labelled list
//! the credential thresholds were set on, merging, UTF-8 offsets, idempotence, the policy, and
//! linear time on hostile input.
//!
//! Every secret here is built at run time from fragments and a fixed pseudo-random sequence:
//! format-valid, obviously fake, and never a literal a provider's push protection would match.

use std::time::{Duration, Instant};

use annal_engine::secrets::{self, Finding, Policy, SecretKind};

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";

/// `n` characters of `alphabet` from a fixed xorshift sequence (`seed` picks the sequence).
fn fake(alphabet: &str, n: usize, seed: u64) -> String {
    let alphabet = alphabet.as_bytes();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(alphabet[(state % alphabet.len() as u64) as usize])
        })
        .collect()
}

fn b64url(bytes: &[u8]) -> String {
    let alphabet = BASE64URL.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn pem(label: &str, seed: u64) -> String {
    let lines: Vec<String> = (0..12).map(|i| fake(BASE64, 64, seed + i)).collect();
    format!(
        "-----BEGIN {label}-----\n{}\n{}==\n-----END {label}-----",
        lines.join("\n"),
        fake(BASE64, 18, seed + 99)
    )
}

fn jwt(seed: u64) -> String {
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url(br#"{"sub":"agent-7","scope":"deploy","exp":1924992000}"#);
    format!("{header}.{payload}.{}", fake(BASE64URL, 43, seed))
}

/// One secret as a context shows it (`shown`) and the part that must be redacted (`secret`,
/// inside `shown`); `label` names it in `.env`, YAML and JSON; `sentence` has `{}` for it.
struct Case {
    kind: SecretKind,
    shown: String,
    secret: String,
    label: &'static str,
    sentence: &'static str,
}

fn case(kind: SecretKind, shown: String, label: &'static str, sentence: &'static str) -> Case {
    Case { kind, secret: shown.clone(), shown, label, sentence }
}

const NOTE: &str = "Deploy note: the staging credential is {} — rotate it after the demo.";

fn cases() -> Vec<Case> {
    let url_password = format!("Zq8{}", fake(ALNUM, 13, 40));
    vec![
        case(
            SecretKind::AwsAccessKey,
            format!("{}{}", concat!("AK", "IA"), fake(BASE32, 16, 1)),
            "AWS_ACCESS_KEY_ID",
            NOTE,
        ),
        case(
            SecretKind::AwsAccessKey,
            format!("{}{}", concat!("AS", "IA"), fake(BASE32, 16, 2)),
            "AWS_ACCESS_KEY_ID",
            "STS handed us {} for the session; it expires in an hour.",
        ),
        case(
            SecretKind::AwsSecretKey,
            fake(BASE64, 40, 3),
            "aws_secret_access_key",
            "In ~/.aws/credentials I set aws_secret_access_key = {} for the ci profile.",
        ),
        case(
            SecretKind::GithubToken,
            format!("{}{}", concat!("gh", "p_"), fake(ALNUM, 36, 4)),
            "GITHUB_TOKEN",
            "Use {} to push release tags (classic token, repo scope).",
        ),
        case(
            SecretKind::GithubToken,
            format!("{}{}_{}", concat!("github", "_pat_"), fake(ALNUM, 22, 5), fake(ALNUM, 59, 6)),
            "GH_PAT",
            NOTE,
        ),
        case(
            SecretKind::GithubToken,
            format!("{}{}", concat!("gh", "s_"), fake(ALNUM, 36, 7)),
            "GH_INSTALLATION",
            NOTE,
        ),
        case(
            SecretKind::GitlabToken,
            format!("{}{}", concat!("gl", "pat-"), fake(BASE64URL, 20, 8)),
            "GITLAB_TOKEN",
            "The mirror job authenticates with {} (expires June).",
        ),
        case(
            SecretKind::SlackToken,
            format!(
                "{}{}-{}-{}",
                concat!("xo", "xb-"),
                fake(DIGITS, 12, 9),
                fake(DIGITS, 13, 10),
                fake(ALNUM, 24, 11)
            ),
            "SLACK_BOT_TOKEN",
            "The alerts bot posts as {} in #ops.",
        ),
        case(
            SecretKind::SlackToken,
            format!(
                "{}{}-{}-{}-{}",
                concat!("xo", "xp-"),
                fake(DIGITS, 12, 12),
                fake(DIGITS, 12, 13),
                fake(DIGITS, 13, 14),
                fake(HEX, 32, 15)
            ),
            "SLACK_USER_TOKEN",
            NOTE,
        ),
        Case {
            kind: SecretKind::SlackWebhook,
            secret: format!(
                "T{}/B{}/{}",
                fake(ALNUM, 8, 16),
                fake(ALNUM, 10, 17),
                fake(ALNUM, 24, 18)
            ),
            shown: String::new(),
            label: "SLACK_WEBHOOK_URL",
            sentence: "Deploy notifications go to {} (channel #deploys).",
        },
        case(
            SecretKind::StripeKey,
            format!("{}{}", concat!("sk", "_live_"), fake(ALNUM, 24, 19)),
            "STRIPE_SECRET_KEY",
            "Billing runs against {} in production.",
        ),
        case(
            SecretKind::StripeKey,
            format!("{}{}", concat!("rk", "_live_"), fake(ALNUM, 99, 20)),
            "STRIPE_RESTRICTED_KEY",
            NOTE,
        ),
        case(
            SecretKind::OpenaiKey,
            format!("{}{}", concat!("sk", "-proj-"), fake(BASE64URL, 156, 21)),
            "OPENAI_API_KEY",
            "Embeddings are computed with {} (project key, billing account B).",
        ),
        case(
            SecretKind::OpenaiKey,
            format!("{}{}", concat!("s", "k-"), fake(ALNUM, 48, 22)),
            "OPENAI_API_KEY",
            NOTE,
        ),
        case(
            SecretKind::AnthropicKey,
            format!("{}{}AA", concat!("sk", "-ant-api03-"), fake(BASE64URL, 93, 23)),
            "ANTHROPIC_API_KEY",
            "The eval harness calls the API with {} — team workspace.",
        ),
        case(
            SecretKind::GoogleApiKey,
            format!("{}{}", concat!("AI", "za"), fake(BASE64URL, 35, 24)),
            "GOOGLE_MAPS_KEY",
            "Maps tiles load with {} (restricted to our referrers).",
        ),
        case(SecretKind::Jwt, jwt(25), "SESSION_JWT", "Replay the request with this session: {}"),
        case(
            SecretKind::PrivateKey,
            pem("RSA PRIVATE KEY", 26),
            "DEPLOY_KEY",
            "The deploy key for the box:\n{}\nkeep it out of the repo.",
        ),
        case(SecretKind::PrivateKey, pem("OPENSSH PRIVATE KEY", 27), "SSH_KEY", NOTE),
        case(SecretKind::PrivateKey, pem("PGP PRIVATE KEY BLOCK", 28), "SIGNING_KEY", NOTE),
        Case {
            kind: SecretKind::UrlPassword,
            shown: format!("postgres://billing:{url_password}@db.internal:5432/billing"),
            secret: url_password,
            label: "DATABASE_URL",
            sentence: "The reporting job reads {} every night.",
        },
        case(
            SecretKind::Credential,
            format!("{}!{}", fake(ALNUM, 9, 29), fake(ALNUM, 6, 30)),
            "DB_PASSWORD",
            "For the demo the admin login is password={}, reset it afterwards.",
        ),
        case(
            SecretKind::Credential,
            fake(HEX, 64, 31),
            "SESSION_SECRET",
            "The session secret: {} (rotated quarterly).",
        ),
    ]
    .into_iter()
    .map(|mut case| {
        if case.kind == SecretKind::SlackWebhook {
            case.shown = format!("https://hooks.slack.com/services/{}", case.secret);
        }
        case
    })
    .collect()
}

/// The case in each shape an agent or a file would hold it, each with the secret's range.
fn contexts(case: &Case) -> Vec<(String, std::ops::Range<usize>)> {
    let offset = case.shown.find(&case.secret).expect("the secret is in what is shown");
    let label = case.label;
    let lower = label.to_lowercase();
    let json_shown = serde_json::to_string(&case.shown).expect("json");
    let json_secret = serde_json::to_string(&case.secret).expect("json");
    let json_secret = &json_secret[1..json_secret.len() - 1];
    let sentence = case.sentence.replace("{}", &case.shown);
    let env = format!("# staging\n{label}={}\nLOG_LEVEL=debug\n", case.shown);
    let yaml =
        format!("service:\n  name: billing\n  {lower}: \"{}\"\n  region: eu-west-1\n", case.shown);
    let json = format!("{{\"name\": \"billing\", \"{lower}\": {json_shown}, \"retries\": 3}}");
    let markdown = format!("Set it up:\n\n```sh\nexport {label}=\"{}\"\n```\n", case.shown);
    let mut out = Vec::new();
    for text in [sentence, env, yaml, markdown] {
        let at = text.find(&case.shown).expect("shown") + offset;
        out.push((text, at..at + case.secret.len()));
    }
    let at = json.find(json_secret).expect("json secret");
    out.push((json.clone(), at..at + json_secret.len()));
    out
}

#[test]
fn each_kind_is_found_in_every_shape_and_redacted() {
    let cases = cases();
    for kind in SecretKind::ALL {
        assert!(cases.iter().any(|c| c.kind == kind), "no case for {kind}");
    }
    for case in &cases {
        for (text, range) in contexts(case) {
            let found = secrets::scan(&text);
            let expected = Finding { kind: case.kind, start: range.start, end: range.end };
            assert_eq!(found, vec![expected], "{} in {text:?}", case.kind);
            let redacted = secrets::redact(&text);
            let marker = format!("[redacted:{}]", case.kind);
            assert!(redacted.text.contains(&marker), "{marker} missing: {}", redacted.text);
            assert!(!redacted.text.contains(&text[range.clone()]), "{}", redacted.text);
            assert_eq!(
                redacted.text,
                format!("{}{marker}{}", &text[..range.start], &text[range.end..]),
                "only the secret is replaced"
            );
        }
    }
}

/// Texts with nothing to redact: look-alikes of every rule's shape.
fn look_alikes() -> Vec<String> {
    let png = fake(BASE64, 4096, 50);
    vec![
        // Hashes and ids.
        "Merged in 3f786850e387550fdab836ed7e6dc881de23001b; short sha 3f78685.".into(),
        "Request id 7c9e6679-7425-40de-944b-e07fc1f90ae7 failed at 2024-05-01T10:00:00Z.".into(),
        format!("sha256: {}", fake(HEX, 64, 51)),
        format!("![chart](data:image/png;base64,iVBORw0KGgo{png}==)"),
        format!(
            "\"node_modules/left-pad\": {{\"version\": \"1.3.0\", \"integrity\": \"sha512-{}==\"}}",
            fake(BASE64, 86, 52)
        ),
        format!("[[package]]\nname = \"regex\"\nchecksum = \"{}\"\n", fake(HEX, 64, 53)),
        format!("go.sum: golang.org/x/text v0.3.7 h1:{}=", fake(BASE64, 43, 54)),
        // Test-mode and documented example keys.
        format!("Tests use {}{} in test mode.", concat!("sk", "_test_"), fake(ALNUM, 24, 55)),
        format!("restricted test key {}{}", concat!("rk", "_test_"), fake(ALNUM, 24, 56)),
        "AWS docs: aws_access_key_id = AKIAIOSFODNN7EXAMPLE".into(),
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        format!("Put your key here: {}XXXXXXXXXXXXXXXX", concat!("AK", "IA")),
        format!("GITHUB_TOKEN={}{}", concat!("gh", "p_"), "x".repeat(36)),
        format!(
            "Webhook format: https://hooks.slack.com/services/T00000000/B00000000/{}",
            "X".repeat(24)
        ),
        format!("Slack's docs use {}not-a-real-token-this-will-not-work.", concat!("xo", "xb-")),
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----".into(),
        "Paste it between -----BEGIN PRIVATE KEY----- and -----END PRIVATE KEY----- lines.".into(),
        // Placeholders and references.
        "password: changeme".into(),
        "DB_PASSWORD=${DB_PASSWORD}".into(),
        "GITHUB_TOKEN=$GITHUB_TOKEN".into(),
        "api_key: <your-token>".into(),
        "token: xxxx".into(),
        "password: \"********\"".into(),
        "password: {{ .Values.db.password }}".into(),
        "dsn = \"dbname=app password=%(password)s\"".into(),
        "const apiKey = process.env.OPENAI_API_KEY!;".into(),
        "token = os.environ[\"GITHUB_TOKEN\"]".into(),
        "SECRET_KEY = env(\"DJANGO_SECRET_KEY\")".into(),
        "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256".into(),
        "token: ${{ secrets.GITHUB_TOKEN }}".into(),
        "api_key: your-api-key-here".into(),
        "secret: \"[redacted:credential]\"".into(),
        "postgres://user:password@localhost:5432/app".into(),
        "postgres://app:${DB_PASS}@db:5432/app".into(),
        "https://deploy:****@registry.internal/v2/".into(),
        "credentials: ~/.config/gcloud/application_default_credentials.json".into(),
        // Code.
        "fn login(password: &str, token: CancellationToken) -> Result<Session, Error>".into(),
        "struct Config { api_key: SecretString, password: String }".into(),
        "def connect(api_key: Optional[str] = None, token: str = \"\"):".into(),
        "headers = {\"Authorization\": f\"Bearer {token}\"}".into(),
        "curl -H \"Authorization: Bearer $TOKEN\" https://api.internal/v1/jobs".into(),
        "this.token = this.config.auth.token;".into(),
        "match next { Token::TupleEnd => break, Token::Key(k) => keys.push(k), _ => {} }".into(),
        "\"grant_type\": \"urn:ietf:params:oauth:grant-type:jwt-bearer\"".into(),
        "WWW-Authenticate: Bearer resource_metadata=\"/.well-known/oauth-protected-resource\""
            .into(),
        "secretName: db-credentials\nkind: Secret".into(),
        // Settings that are not secrets.
        "password_reset_token_ttl: 3600\nmax_tokens: 4096\nsecret: true\nauth: oauth2".into(),
        "tokenizer: bert-base-uncased\ntoken_count: 12873\npasswordResetTokenTtl: 3600".into(),
        // Prose, URLs and long words.
        "The token is refreshed hourly; the password policy requires 12 characters.".into(),
        "Secrets live in Vault; bearer tokens expire after an hour.".into(),
        "Token: rotated monthly by the platform team.".into(),
        "We evaluated sk-learn-compatible-estimators and task-force-skill-assessment.".into(),
        "antidisestablishmentarianism, pneumonoultramicroscopicsilicovolcanoconiosis".into(),
        "See https://example.com:8443/path and ssh://git@github.com/org/repo.git".into(),
        // A JWT-shaped string whose header has no alg.
        format!("{}.{}.{}", b64url(br#"{"foo":"bar"}"#), b64url(b"{}"), fake(BASE64URL, 43, 57)),
    ]
}

#[test]
fn look_alikes_are_left_alone() {
    for text in look_alikes() {
        let found = secrets::scan(&text);
        let shown: Vec<_> = found.iter().map(|f| (f.kind, &text[f.range()])).collect();
        assert!(found.is_empty(), "false positive in {text:?}: {shown:?}");
    }
}

/// Values of `password:`-style labels, by what they are. The credential thresholds (at least
/// 8 characters; at least 2.5 bits of entropy per character with a digit or symbol, 4.0 for
/// letters only) were set on this list: every secret found, every non-secret left.
const SECRET_VALUES: &[&str] = &[
    "hunter2abc",
    "Passw0rd",
    "P@ssw0rd!",
    "password1",
    "S3cr3t!Passw0rd",
    "Tr0ub4dor&3",
    "s3cr3t-P4ss",
    "letmein123",
    "Summer2024",
    "kQzPwLmAbXtRvNsYcUeHgJdF",
    "8f14e45fceea167a5a36dedd4bea2543",
    "dGhpcyBpcyBhIHNlY3JldA==",
    "django-insecure-7#x!q2@v^p0z&k9m",
    "ya29.a0AfH6SMBx3kQ9sT1vLp",
    "550e8400-e29b-41d4-a716-446655440000",
    "mötley€crüe2024",
];

const NOT_SECRET_VALUES: &[&str] = &[
    "changeme",
    "changeme123",
    "example-password-1",
    "your_api_key",
    "${DB_PASSWORD}",
    "$DB_PASSWORD",
    "<your-token>",
    "xxxxxxxxxxxx",
    "************",
    "%(password)s",
    "[redacted:credential]",
    "process.env.TOKEN",
    "settings.SECRET_KEY",
    "getenv(TOKEN)",
    "GITHUB_TOKEN",
    "CancellationToken",
    "SecretString",
    "Option<String>",
    "true",
    "3600",
    "12ab12ab",
    "2024-01-01T00:00:00Z",
    "/run/secrets/db_password",
    "./secrets/token.txt",
    "https://vault.internal/v1/kv/app",
    "refreshed",
    "supersecret",
    "progress-1",
    "_bindgen_ty_7",
    "grant-type:jwt-bearer",
    "kubernetes-secret-name",
    "CGDisplayFadeReservationToken",
    "node.dot2_token",
    "resource_metadata=",
];

/// Real secrets the rule misses by design, asserted so a threshold change shows: too short
/// to tell from a word (under 8 characters), or words only (passphrases read like the type
/// names and identifiers code puts after `token:`).
const MISSED_VALUES: &[&str] =
    &["hunter2", "correcthorsebatterystaple", "MySecretPassword", "my_pass_2024"];

#[test]
fn labelled_values_are_judged_by_the_list() {
    let judge = |value: &str| {
        let shapes = [
            format!("password: {value}\n"),
            format!("API_TOKEN=\"{value}\"\n"),
            format!("{{\"clientSecret\": \"{value}\"}}"),
        ];
        shapes.map(|text| {
            let found = secrets::scan(&text);
            let at = text.find(value).expect("value");
            match found.as_slice() {
                [] => false,
                [f] if f.range() == (at..at + value.len()) && f.kind == SecretKind::Credential => {
                    true
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        })
    };
    for value in SECRET_VALUES {
        assert_eq!(judge(value), [true; 3], "{value:?} is a secret");
    }
    for value in NOT_SECRET_VALUES.iter().chain(MISSED_VALUES) {
        assert_eq!(judge(value), [false; 3], "{value:?} is not taken for a secret");
    }
}

#[test]
fn overlapping_matches_merge_under_the_longer_kind() {
    let github = format!("{}{}", concat!("gh", "s_"), fake(ALNUM, 36, 60));
    let url = format!("https://x-access-token:{github}@github.com/org/repo.git");
    let found = secrets::scan(&url);
    let at = url.find(&github).expect("token");
    assert_eq!(
        found,
        vec![Finding { kind: SecretKind::GithubToken, start: at, end: at + github.len() }]
    );

    let token = jwt(61);
    let header = format!("curl -H 'Authorization: Bearer {token}' https://api.internal");
    let found = secrets::scan(&header);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, SecretKind::Jwt);

    let anthropic = format!("{}{}", concat!("sk", "-ant-api03-"), fake(BASE64URL, 95, 62));
    let found = secrets::scan(&format!("api_key={anthropic}"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, SecretKind::AnthropicKey, "the more specific rule names it");
}

#[test]
fn offsets_are_char_boundaries_in_unicode_text() {
    let github = format!("{}{}", concat!("gh", "p_"), fake(ALNUM, 36, 70));
    let google = format!("{}{}", concat!("AI", "za"), fake(BASE64URL, 35, 71));
    let text = format!(
        "Schlüssel für 東京 🚀: {github}。Ключ карт — {google}… password=Zürich-Straße-9!x ✓"
    );
    let found = secrets::scan(&text);
    assert_eq!(
        found.iter().map(|f| f.kind).collect::<Vec<_>>(),
        [SecretKind::GithubToken, SecretKind::GoogleApiKey, SecretKind::Credential]
    );
    for f in &found {
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f}");
    }
    assert_eq!(&text[found[0].range()], github);
    assert_eq!(&text[found[1].range()], google);
    assert_eq!(&text[found[2].range()], "Zürich-Straße-9!x");
    let redacted = secrets::redact(&text);
    assert_eq!(
        redacted.text,
        "Schlüssel für 東京 🚀: [redacted:github-token]。Ключ карт — [redacted:google-api-key]… \
         password=[redacted:credential] ✓"
    );
}

#[test]
fn several_kinds_in_one_text_are_each_redacted() {
    let cases = cases();
    let mut text = String::from("Handover notes\n\n");
    for case in &cases {
        text.push_str(&case.sentence.replace("{}", &case.shown));
        text.push_str("\n\n");
    }
    let found = secrets::scan(&text);
    assert_eq!(
        found.iter().map(|f| f.kind).collect::<Vec<_>>(),
        cases.iter().map(|c| c.kind).collect::<Vec<_>>()
    );
    assert!(found.windows(2).all(|w| w[0].end <= w[1].start), "in order, not overlapping");
    let redacted = secrets::redact(&text);
    assert_eq!(redacted.findings, found);
    for case in &cases {
        assert!(!redacted.text.contains(&case.secret), "{} left in", case.kind);
    }
    assert!(
        redacted.text.starts_with("Handover notes")
            && redacted.text.contains("rotate it after the demo")
    );
}

#[test]
fn redacting_twice_finds_nothing_new() {
    let mut texts: Vec<String> = cases().iter().flat_map(contexts).map(|(text, _)| text).collect();
    texts.extend(look_alikes());
    for text in texts {
        let once = secrets::redact(&text);
        let twice = secrets::redact(&once.text);
        assert!(twice.findings.is_empty(), "{:?} in {:?}", twice.findings, once.text);
        assert_eq!(twice.text, once.text);
    }
}

#[test]
fn private_keys_are_taken_whole_or_through_their_material() {
    let key = pem("EC PRIVATE KEY", 80);
    // A service-account JSON file holds the block with escaped newlines.
    let json =
        serde_json::to_string(&serde_json::json!({"type": "service_account", "private_key": key}))
            .expect("json");
    let escaped = serde_json::to_string(&key).expect("json");
    let at = json.find(&escaped[1..escaped.len() - 1]).expect("key");
    assert_eq!(
        secrets::scan(&json),
        vec![Finding { kind: SecretKind::PrivateKey, start: at, end: at + escaped.len() - 2 }]
    );

    // Cut off before its END line (a truncated paste, a chunk boundary): the material goes,
    // the prose after it stays.
    let cut = &key[..key.len() - 120];
    let text = format!("{cut}\nThen restart nginx.");
    let redacted = secrets::redact(&text);
    assert_eq!(redacted.text, "[redacted:private-key]\nThen restart nginx.");

    // An encrypted key's RFC 1421 headers belong to the block.
    let encrypted = key.replacen(
        "-----\n",
        "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0F4E1C2D3B4A59687766554433221100\n\n",
        1,
    );
    let cut = &encrypted[..encrypted.len() - 120];
    assert_eq!(secrets::redact(&format!("{cut}\n")).text, "[redacted:private-key]\n");

    // Two keys, each its own finding; a certificate between them is not a private key.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----";
    let two = format!("{key}\n{cert}\n{}", pem("PRIVATE KEY", 81));
    let found = secrets::scan(&two);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(secrets::redact(&two).text.contains(cert));
}

#[test]
fn the_policy_reads_and_prints_lowercase_and_defaults_to_redact() {
    #[derive(serde::Deserialize)]
    struct Section {
        #[serde(default)]
        secrets: Policy,
    }
    for (yaml, policy) in [
        ("secrets: redact", Policy::Redact),
        ("secrets: refuse", Policy::Refuse),
        ("secrets: allow", Policy::Allow),
        ("{}", Policy::Redact),
    ] {
        let section: Section = serde_yaml::from_str(yaml).expect(yaml);
        assert_eq!(section.secrets, policy);
        if yaml != "{}" {
            assert_eq!(format!("secrets: {policy}"), yaml);
        }
    }
    assert!(serde_yaml::from_str::<Section>("secrets: Redact").is_err());
    assert!(serde_yaml::from_str::<Section>("secrets: off").is_err());
}

#[test]
fn the_policy_redacts_refuses_or_allows_without_ever_showing_the_secret() {
    let token = format!("{}{}", concat!("gh", "p_"), fake(ALNUM, 36, 90));
    let text = format!("push with {token} please");
    let at = text.find(&token).expect("token");

    let redacted = Policy::Redact.apply(&text).expect("redact never refuses");
    assert_eq!(redacted.text, "push with [redacted:github-token] please");
    assert_eq!(
        redacted.findings,
        vec![Finding { kind: SecretKind::GithubToken, start: at, end: at + 40 }]
    );

    let refused = Policy::Refuse.apply(&text).expect_err("refused");
    let message = refused.to_string();
    assert_eq!(message, "the text holds a secret: github-token at bytes 10..50");
    for shown in [
        message,
        format!("{refused:?}"),
        format!("{:?}", refused.findings[0]),
        refused.findings[0].to_string(),
    ] {
        assert!(!shown.contains(&token[4..]), "{shown}");
    }

    let allowed = Policy::Allow.apply(&text).expect("allow");
    assert_eq!((&*allowed.text, allowed.findings.len()), (text.as_str(), 0));

    let clean = "nothing to see here";
    assert!(
        matches!(Policy::Refuse.apply(clean), Ok(r) if r.findings.is_empty() && r.text == clean)
    );

    let many: String =
        (0..8).map(|i| format!("{}{} ", concat!("gh", "p_"), fake(ALNUM, 36, 100 + i))).collect();
    let message = Policy::Refuse.apply(&many).expect_err("refused").to_string();
    assert!(message.ends_with("and 3 more"), "{message}");
}

/// A scan is linear on text built to make searches read far past their matches: a megabyte
/// of near-misses for every rule scans in well under the time a quadratic scan would take
/// (minutes), even in a debug build.
#[test]
fn hostile_input_scans_in_linear_time() {
    const SIZE: usize = 1 << 20;
    let fill = |unit: &str| unit.repeat(SIZE / unit.len());
    let inputs = [
        fill("password=\"a"),
        fill("-----BEGIN PRIVATE KEY-----"),
        fill("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"),
        fill("://a:b"),
        fill("eyJhbGciOi."),
        fill(concat!("gh", "p_abc ")),
        fill("token: x "),
        fake(BASE64, SIZE, 110),
        fill("a"),
    ];
    for text in &inputs {
        let started = Instant::now();
        let _ = secrets::scan(text);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?} on {:?}…", &text[..40]);
    }
}
