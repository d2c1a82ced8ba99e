//! The dashboard's Connect queries over real HTTP against a real owner process whose home is
//! a temp dir: a client's state, the plan with its diff, writing exactly the plan shown (and
//! refusing one the files no longer give), disconnecting back to the original bytes.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{http, isolate, model_dir, wait_until};

struct Owner {
    child: Child,
    address: String,
    token: String,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path) -> Owner {
    std::fs::write(home.join("config.yaml"), "port: 0\n").expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    isolate(&mut command, home)
        .env("ANNAL_MODEL_DIR", model_dir())
        .env("CODEX_HOME", home.join(".codex"))
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CLAUDE_CONFIG_DIR");
    let child = command.arg("serve").spawn().expect("serve");
    let data = home.join("data");
    let address_file = data.join(annal::http::ADDRESS_FILE);
    wait_until("the owner serves HTTP", Duration::from_secs(60), || address_file.exists());
    let address = std::fs::read_to_string(&address_file).expect("address").trim().to_owned();
    let token = annal::http::token(&data).expect("token");
    Owner { child, address, token }
}

impl Owner {
    fn call(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let auth = vec![format!("Authorization: Bearer {}", self.token)];
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let (status, text) = http(&self.address, method, path, &auth, &body);
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn gemini(clients: &Value) -> &Value {
    clients
        .as_array()
        .and_then(|all| all.iter().find(|c| c["client"] == "gemini"))
        .unwrap_or_else(|| panic!("no gemini in {clients}"))
}

#[test]
fn connect_shows_the_diff_writes_it_and_disconnect_restores_the_file() {
    let home = tempfile::tempdir().expect("home");
    let settings = home.path().join(".gemini/settings.json");
    std::fs::create_dir_all(settings.parent().expect("dir")).expect("mkdir");
    let original = "{\n  // mine\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \"other\": { \"command\": \"other-server\" }\n  }\n}\n";
    std::fs::write(&settings, original).expect("settings");
    let owner = serve(home.path());
    let annal_bin = std::fs::canonicalize(env!("CARGO_BIN_EXE_annal")).expect("exe");

    let (status, clients) = owner.call("GET", "/api/clients", &Value::Null);
    assert_eq!(status, 200, "{clients}");
    assert_eq!(gemini(&clients)["detected"], true);
    assert_eq!(gemini(&clients)["configured"], false);
    let snippet = gemini(&clients)["snippet"].as_str().unwrap_or_default().to_owned();
    assert!(snippet.contains(&annal_bin.display().to_string()), "the real path: {snippet}");

    let (status, plan) =
        owner.call("GET", "/api/clients/plan?client=gemini&operation=install", &Value::Null);
    assert_eq!(status, 200, "{plan}");
    let config_row = &plan["rows"][0];
    assert_eq!(config_row["action"]["kind"], "added");
    let diff = config_row["diff"].as_str().unwrap_or_default();
    assert!(diff.lines().any(|l| l.starts_with('+') && l.contains("annal")), "{diff}");
    assert_eq!(
        std::fs::read_to_string(&settings).expect("read"),
        original,
        "a plan writes nothing"
    );

    // The file changes between showing and confirming: the confirmation is refused.
    let fingerprint = plan["fingerprint"].clone();
    let edited = original.replace("dark", "light");
    std::fs::write(&settings, &edited).expect("edit");
    let confirm = json!({"client": "gemini", "operation": "install", "fingerprint": fingerprint});
    let (status, refused) = owner.call("POST", "/api/clients/apply", &confirm);
    assert_eq!((status, refused["kind"].as_str()), (409, Some("conflict")), "{refused}");
    assert_eq!(std::fs::read_to_string(&settings).expect("read"), edited);

    let (_, plan) =
        owner.call("GET", "/api/clients/plan?client=gemini&operation=install", &Value::Null);
    let confirm =
        json!({"client": "gemini", "operation": "install", "fingerprint": plan["fingerprint"]});
    let (status, done) = owner.call("POST", "/api/clients/apply", &confirm);
    assert_eq!(status, 200, "{done}");
    let written = std::fs::read_to_string(&settings).expect("read");
    assert!(written.contains("// mine") && written.contains("other-server"), "{written}");
    assert!(written.contains(&annal_bin.display().to_string()), "{written}");
    let (_, clients) = owner.call("GET", "/api/clients", &Value::Null);
    assert_eq!(gemini(&clients)["configured"], true);
    assert_eq!(gemini(&clients)["up_to_date"], true);
    assert_eq!(gemini(&clients)["command_found"], true);

    let (_, plan) =
        owner.call("GET", "/api/clients/plan?client=gemini&operation=uninstall", &Value::Null);
    let confirm =
        json!({"client": "gemini", "operation": "uninstall", "fingerprint": plan["fingerprint"]});
    let (status, done) = owner.call("POST", "/api/clients/apply", &confirm);
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        std::fs::read_to_string(&settings).expect("read"),
        edited,
        "back to the bytes before"
    );
}

#[test]
fn connect_refuses_bad_input_and_callers_without_the_credential() {
    let home = tempfile::tempdir().expect("home");
    let owner = serve(home.path());
    let (status, _) =
        owner.call("GET", "/api/clients/plan?client=notepad&operation=install", &Value::Null);
    assert_eq!(status, 400, "an unknown client");
    let (status, _) = owner.call("GET", "/api/clients/plan?client=gemini", &Value::Null);
    assert_eq!(status, 400, "no operation");
    let (status, _) = owner.call("POST", "/api/clients/apply", &json!({"client": "gemini"}));
    assert_eq!(status, 422, "no fingerprint");
    let (status, _) = owner.call("GET", "/api/clients/apply", &Value::Null);
    assert_eq!(status, 405, "a write is not reachable with GET");
    for path in ["/api/clients", "/api/clients/plan?client=gemini&operation=install"] {
        let (status, _) = http(&owner.address, "GET", path, &[], "");
        assert_eq!(status, 401, "{path} without the token");
    }
    let confirm = json!({"client": "gemini", "operation": "install", "fingerprint": "x"});
    let (status, _) = http(&owner.address, "POST", "/api/clients/apply", &[], &confirm.to_string());
    assert_eq!(status, 401);
    assert!(!home.path().join(".gemini/settings.json").exists(), "nothing written");
}
