//! The markdown chunker on any text: no panic, and no text lost. Every line that is not a
//! heading candidate (those become heading paths, or nothing when their section is empty)
//! appears in some chunk, and every chunk starts with its heading path. Secrets are redacted
//! where chunks are made, so a text holding one is only checked line by line where no secret
//! is (a finding can span lines: a PEM block).
#![no_main]

use annal::index::chunk::{FileKind, chunk_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let chunks = chunk_file("fuzz.md", FileKind::Markdown, text);
    for chunk in &chunks {
        let body = chunk.text.strip_prefix(&chunk.heading_path).expect("heading path first");
        assert!(body.starts_with("\n\n") && !body.trim().is_empty(), "{chunk:?}");
        assert!(chunk.heading_path.starts_with("fuzz.md"), "{chunk:?}");
    }
    let normalised = text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n");
    let secrets = annal::secrets::scan(&normalised);
    let mut offset = 0;
    for line in normalised.lines() {
        let (start, end) = (offset, offset + line.len());
        offset = end + 1;
        let kept = line.trim();
        if kept.is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if secrets.iter().any(|s| s.start < end + 1 && s.end > start) {
            continue;
        }
        assert!(chunks.iter().any(|c| c.text.contains(kept)), "line {line:?} lost: {chunks:?}");
    }

    let whole = chunk_file("fuzz.yaml", FileKind::Whole, text);
    assert_eq!(whole.len(), usize::from(!normalised.trim().is_empty()), "{whole:?}");
});
