use serde_json::{Value, json};

use super::*;

fn refusal(message: &[u8]) -> Refusal {
    match check(message) {
        Verdict::Answer(refusal) => refusal,
        other => panic!("{}: expected an answer, got {other:?}", String::from_utf8_lossy(message)),
    }
}

fn call(arguments: Value) -> Vec<u8> {
    let request = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "store_memory", "arguments": arguments}});
    request.to_string().into_bytes()
}

fn nested(depth: usize) -> Vec<u8> {
    let arguments = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"x","arguments":{{"a":{arguments}}}}}}}"#
    )
    .into_bytes()
}

#[test]
fn valid_messages_are_served() {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let messages = [
        initialize,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": "a", "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "x"}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/list"}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}),
        json!({"jsonrpc": "2.0", "id": 6, "result": {}}),
    ];
    for message in messages {
        assert_eq!(check(message.to_string().as_bytes()), Verdict::Serve, "{message}");
    }
    let bom = format!("\u{feff}{}\r", json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
    assert_eq!(check(bom.as_bytes()), Verdict::Serve);
    assert_eq!(check(&nested(100)), Verdict::Serve);
}

#[test]
fn undecodable_input_is_a_parse_error_with_the_id_when_it_can_be_found() {
    let mut bad_utf8 = call(json!({"content": "x"}));
    let at = bad_utf8.iter().position(|&b| b == b'x').expect("x");
    bad_utf8[at] = 0xff;
    let surrogate = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"store_memory","arguments":{"content":"\ud800"}}}"#;
    for (message, why) in [
        (bad_utf8, "not valid UTF-8"),
        (surrogate.to_vec(), "escape"),
        (nested(200), "recursion limit"),
        (nested(5_000), "recursion limit"),
        (b"{\"jsonrpc\":\"2.0\",\"id\":7,".to_vec(), "EOF"),
    ] {
        let refused = refusal(&message);
        assert_eq!((refused.code, &refused.id), (PARSE_ERROR, &json!(7)), "{refused:?}");
        assert!(refused.message.contains(why), "{refused:?}");
    }
    // The id last (as some clients write it), or not there at all.
    let last = br#"{"method":"tools/call","params":{"a":"\ud800"},"jsonrpc":"2.0","id":"req-9"}"#;
    assert_eq!(refusal(last).id, json!("req-9"));
    let hidden = br#"{"method":"x","params":{"a":"\ud800","id":3},"jsonrpc":"2.0"}"#;
    assert_eq!(refusal(hidden).id, Value::Null);
    let in_a_string = br#"{"a":"\ud800","b":"q\",\"id\":5}"}"#;
    assert_eq!(refusal(in_a_string).id, Value::Null);
    assert_eq!(refusal(b"\xff\xfe").id, Value::Null);
    assert_eq!(refusal(b"").code, PARSE_ERROR);
}

#[test]
fn batches_and_non_objects_are_invalid_requests_with_a_null_id() {
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]).to_string();
    let refused = refusal(batch.as_bytes());
    assert_eq!((refused.code, refused.id), (INVALID_REQUEST, Value::Null));
    assert!(refused.message.contains("batches"));
    for message in ["5", "\"ping\"", "null", "[]"] {
        assert_eq!(refusal(message.as_bytes()).code, INVALID_REQUEST, "{message}");
    }
}

#[test]
fn malformed_requests_are_invalid_with_their_id() {
    let cases = [
        (json!({"id": 1, "method": "ping"}), json!(1), "jsonrpc"),
        (json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}), json!(1), "jsonrpc"),
        (json!({"jsonrpc": "2.0", "id": null, "method": "ping"}), Value::Null, "id must be"),
        (json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}), Value::Null, "id must be"),
        (json!({"jsonrpc": "2.0", "id": {}, "method": "ping"}), Value::Null, "id must be"),
        (json!({"jsonrpc": "2.0", "id": 2, "method": 5}), json!(2), "method must be"),
        (json!({"jsonrpc": "2.0", "id": 3}), json!(3), "needs a method"),
        (json!({"jsonrpc": "2.0"}), Value::Null, "needs a method"),
        (json!({"jsonrpc": "2.0", "id": 4, "result": {}, "error": {}}), json!(4), "needs a method"),
    ];
    for (message, id, why) in cases {
        let refused = refusal(message.to_string().as_bytes());
        assert_eq!((refused.code, &refused.id), (INVALID_REQUEST, &id), "{message}: {refused:?}");
        assert!(refused.message.contains(why), "{message}: {refused:?}");
    }
}

#[test]
fn wrong_typed_params_are_invalid_params_naming_the_field() {
    let request = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}).to_string()
    };
    let cases = [
        (request("tools/list", json!([1])), "params must be an object, not an array"),
        (request("tools/call", json!("x")), "params must be an object, not a string"),
        (request("tools/call", json!({"name": 5})), "params.name must be a string, not a number"),
        (request("tools/call", json!({"arguments": {}})), "params.name is missing"),
        (request("tools/call", json!({"name": "x", "arguments": "{}"})), "params.arguments"),
        (request("tools/call", json!({"name": "x", "arguments": [1]})), "not an array"),
        (
            request("initialize", json!({"protocolVersion": 5})),
            "initialize params: protocolVersion: invalid type",
        ),
    ];
    for (message, why) in cases {
        let refused = refusal(message.as_bytes());
        assert_eq!((refused.code, &refused.id), (INVALID_PARAMS, &json!(9)), "{message}");
        assert!(refused.message.contains(why), "{message}: {refused:?}");
    }
    let missing = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call"}).to_string();
    assert_eq!(refusal(missing.as_bytes()).code, INVALID_PARAMS);
}

#[test]
fn long_values_are_not_quoted_back() {
    let long = "m".repeat(2_000_000);
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": long}).to_string();
    let refused = refusal(message.as_bytes());
    assert_eq!(refused.code, METHOD_NOT_FOUND);
    assert!(refused.to_json().len() < 1024, "{}", refused.to_json().len());
    // serde quotes the whole string it rejects.
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"capabilities": long, "clientInfo": {}, "protocolVersion": "2025-06-18"}});
    let refused = refusal(message.to_string().as_bytes());
    assert_eq!(refused.code, INVALID_PARAMS);
    assert!(refused.message.contains("capabilities: invalid type: string \"mmm"), "{refused:?}");
    assert!(refused.to_json().len() < 1024, "{}", refused.to_json().len());
}

#[test]
fn notifications_that_cannot_be_served_are_ignored() {
    let notifications = [
        json!({"method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": 1}}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": [1]}),
    ];
    for message in notifications {
        match check(message.to_string().as_bytes()) {
            Verdict::Ignore(refused) => assert_eq!(refused.id, Value::Null),
            other => panic!("{message}: {other:?}"),
        }
    }
}

#[test]
fn oversized_messages_are_refused_with_the_id_from_either_end() {
    let content = "x".repeat(MAX_MESSAGE_BYTES);
    let first =
        format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"c":"{content}"}}}}"#);
    let last =
        format!(r#"{{"method":"tools/call","params":{{"c":"{content}"}},"jsonrpc":"2.0","id":4}}"#);
    for (text, id) in [(first, 3), (last, 4)] {
        let mut collector = Collector::default();
        for chunk in text.as_bytes().chunks(8192) {
            collector.push(chunk);
        }
        let Collected::Oversized(refused) = collector.finish() else { panic!("not refused") };
        assert_eq!((refused.code, refused.id), (PARSE_ERROR, json!(id)));
        assert!(refused.message.contains(&format!("{} bytes", text.len())), "{}", refused.message);
    }
    let mut collector = Collector::default();
    collector.push(&vec![b' '; MAX_MESSAGE_BYTES]);
    assert!(
        matches!(collector.finish(), Collected::Whole(kept) if kept.len() == MAX_MESSAGE_BYTES)
    );
}

#[tokio::test]
async fn lines_are_read_whatever_their_bytes() {
    let mut input = b"{\"a\":1}\r\n\xff\xfe\n\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10_000_000));
    input.extend(b"\nlast");
    let mut lines = LineReader::new(input.as_slice());
    let mut read = Vec::new();
    while let Some(line) = lines.next().await.expect("read") {
        read.push(match line {
            Collected::Whole(line) => String::from_utf8_lossy(&line).into_owned(),
            Collected::Oversized(refused) => refused.message,
        });
    }
    assert_eq!(read.len(), 5, "{read:?}");
    assert_eq!(read[0], "{\"a\":1}\r");
    assert_eq!(read[1], "\u{fffd}\u{fffd}");
    assert!(read[2].is_empty() && is_blank(b" \r"));
    assert!(read[3].starts_with("message is 10000000 bytes"), "{}", read[3]);
    assert_eq!(read[4], "last");
}
