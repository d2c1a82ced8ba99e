//! `annal`'s test helpers: the engine tests' own (included), plain HTTP requests, and child
//! processes kept out of the real home.

#[allow(dead_code, unused_imports)] // The engine's tests use the rest.
#[path = "../engine/tests/util.rs"]
mod engine;

pub use engine::*;

/// One HTTP/1.1 request over a fresh connection: (status, body). Blocking; call it from
/// `spawn_blocking` in async tests.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_response(address, method, path, headers, body);
    (status, body)
}

/// Like [`http`], with the response's header lines (lower-cased names) too.
pub fn http_response(
    address: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Points every place a child program may take for a home (HOME, the XDG dirs, the model
/// caches, Annal's own) into `home`, so no test reads or writes the real one.
pub fn isolate<'a>(
    command: &'a mut std::process::Command,
    home: &std::path::Path,
) -> &'a mut std::process::Command {
    command
        .env("ANNAL_HOME", home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("HF_HOME", home.join(".cache/huggingface"))
        .env("HF_HUB_CACHE", home.join(".cache/huggingface/hub"))
        .env_remove("ANNAL_CONFIG")
}

/// Polls `condition` until it holds; panics naming `what` after `limit`. The one deadline loop
/// of the tests: never a fixed sleep.
pub fn wait_until(what: &str, limit: std::time::Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A child process killed and reaped when the test lets go of it, even on a failed assertion.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
