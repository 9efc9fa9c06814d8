//! Recognising an input that is not dataset records (a CSV, an H5AD, any
//! other stage's file) before streaming it, so that it is one error that
//! says what was expected and what came instead of a JSON parse error.

use cxg_core::io::Input;
use cxg_core::{At, Error, Result};
use std::io::{Cursor, Read};

/// What a harvest must be, as the error states it.
const EXPECTED: &str = "expected dataset records: the JSON Lines cxg-datasets writes \
     (datasets.jsonl), the GET /datasets index array (datasets_index.json) or a snapshot folder";

/// Bytes read ahead at most to find the first that is not white space.
const LOOKAHEAD: usize = 64 * 1024;

/// `input` unchanged (the bytes read ahead put back in front) when it
/// starts like JSON or is empty; otherwise the error naming what it is.
pub(crate) fn json_or_error(input: Input) -> Result<Input> {
    let Input { name, mut reader } = input;
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let first = loop {
        if let Some(&b) = head.iter().find(|b| !is_blank(**b)) {
            break Some(b);
        }
        let n = reader
            .read(&mut chunk)
            .at(format_args!("cannot read {name}"))?;
        if n == 0 || head.len() >= LOOKAHEAD {
            break None;
        }
        head.extend_from_slice(&chunk[..n]);
    };
    if first.is_some_and(|b| b != b'{' && b != b'[') {
        return Err(Error::input(format!(
            "{name}: {EXPECTED}; got {}",
            what(&head)
        )));
    }
    if first == Some(b'{') {
        // JSON Lines: the first line says whose records they are
        while !head.contains(&b'\n') && head.len() < LOOKAHEAD * 16 {
            let n = reader
                .read(&mut chunk)
                .at(format_args!("cannot read {name}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        if let Some(other) = other_stage(&head) {
            return Err(Error::input(format!("{name}: {EXPECTED}; got {other}")));
        }
    }
    let reader = Box::new(Cursor::new(head).chain(reader));
    Ok(Input { name, reader })
}

/// JSON Lines of another stage, told by the keys of the first line:
/// cxg-diff's own changes, cxg-obs's summaries.
fn other_stage(head: &[u8]) -> Option<&'static str> {
    let line = head.split(|b| *b == b'\n').next()?;
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let o = v.as_object()?;
    let has = |k: &str| o.contains_key(k);
    if has("change") && (has("new_dataset_version_id") || has("old_dataset_version_id")) {
        Some("cxg-diff's own changes (changes.jsonl), not a harvest")
    } else if has("n_cells") || (has("counts") && has("status")) {
        Some("cxg-obs's cell summaries (obs.jsonl), not a harvest")
    } else {
        None
    }
}

/// White space, and the bytes of a UTF-8 byte-order mark.
fn is_blank(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, 0xEF | 0xBB | 0xBF)
}

/// A few words on what the input is, from its first bytes.
fn what(head: &[u8]) -> String {
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return "an HDF5 file (an H5AD?)".into();
    }
    let text = String::from_utf8_lossy(head);
    let line = text.trim_start().lines().next().unwrap_or("");
    let shown: String = line.chars().take(60).collect();
    let cut = if shown.len() < line.len() { "..." } else { "" };
    if line.contains(',') {
        format!(
            "a CSV (its first line: '{shown}{cut}'); CSVs of the harvest cannot be compared: \
             give each harvest's datasets.jsonl, datasets_index.json or snapshot folder"
        )
    } else {
        format!("text that is not JSON (its first line: '{shown}{cut}')")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sniff(bytes: &'static [u8]) -> std::result::Result<String, String> {
        let input = Input {
            name: "'x'".into(),
            reader: Box::new(bytes),
        };
        match json_or_error(input) {
            Ok(mut i) => {
                let mut s = String::new();
                i.reader.read_to_string(&mut s).unwrap();
                Ok(s)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn json_passes_whole_and_anything_else_is_named() {
        for ok in ["", "  \n", "{\"a\":1}\n", "\n\n[1]", "\u{feff}{}"] {
            assert_eq!(sniff(ok.as_bytes().to_vec().leak()).as_deref(), Ok(ok));
        }
        let e = sniff(b"dataset_id,collection_id\nd,c\n").unwrap_err();
        assert_eq!(
            e,
            format!(
                "'x': {EXPECTED}; got a CSV (its first line: 'dataset_id,collection_id'); \
                 CSVs of the harvest cannot be compared: give each harvest's datasets.jsonl, \
                 datasets_index.json or snapshot folder"
            )
        );
        assert!(sniff(b"\x89HDF\r\n\x1a\n\0\0")
            .unwrap_err()
            .ends_with("got an HDF5 file (an H5AD?)"));
        assert!(sniff(b"hello\n")
            .unwrap_err()
            .ends_with("got text that is not JSON (its first line: 'hello')"));
        let changes =
            b"{\"change\":\"added\",\"dataset_id\":\"d\",\"new_dataset_version_id\":\"v\"}\n";
        assert!(sniff(changes)
            .unwrap_err()
            .ends_with("got cxg-diff's own changes (changes.jsonl), not a harvest"));
        let obs = b"{\"dataset_version_id\":\"v\",\"status\":\"ok\",\"n_cells\":3}";
        assert!(sniff(obs)
            .unwrap_err()
            .ends_with("got cxg-obs's cell summaries (obs.jsonl), not a harvest"));
        // dataset records pass whole, however long their first line
        let long = format!(
            "{{\"dataset_id\":\"d\",\"x\":\"{}\"}}\n{{}}\n",
            "y".repeat(10_000)
        );
        assert_eq!(sniff(long.clone().into_bytes().leak()), Ok(long));
    }
}
