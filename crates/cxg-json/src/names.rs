//! File names built from record fields, for the tools that write one file
//! per record: a `{field}` template, the safe-name rule, and duplicate
//! detection, so nothing is written outside the output folder and no file
//! is silently overwritten.

use crate::raw::Node;
use cxg_core::error::{Error, Result};
use cxg_core::paths::unsafe_name_reason;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A file-name template such as `collection_{collection_id}.json`.
pub struct Template {
    parts: Vec<(bool, String)>, // (is_field, text)
}

impl Template {
    pub fn parse(t: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| Error::input(format!("--name '{t}': '{{' without '}}'")))?;
            let field = &rest[open + 1..close];
            if field.is_empty()
                || !field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(Error::input(format!(
                    "--name '{t}': '{{{field}}}' is not a field name"
                )));
            }
            parts.push((false, rest[..open].to_string()));
            parts.push((true, field.to_string()));
            rest = &rest[close + 1..];
        }
        parts.push((false, rest.to_string()));
        if let Some(why) = parts.iter().filter(|(f, _)| !f).find_map(|(_, s)| {
            (s.contains('/') || s.contains('\\') || s.chars().any(char::is_control))
                .then_some("it contains a path separator or control character")
        }) {
            return Err(Error::input(format!("--name '{t}': {why}")));
        }
        Ok(Template { parts })
    }

    /// The file name for the record `v` (its members recorded on the
    /// tape); `what` names the record in messages.
    pub fn render(&self, v: Node<'_>, what: &str) -> Result<String> {
        let mut out = String::new();
        for (is_field, s) in &self.parts {
            if !is_field {
                out.push_str(s);
                continue;
            }
            if v.kind() != "object" {
                return Err(Error::input(format!(
                    "{what}: is {}, not an object",
                    v.kind()
                )));
            }
            let Some(field) = v.get(s) else {
                return Err(Error::input(format!("{what}: has no field '{s}'")));
            };
            let Some(val) = field.as_str() else {
                return Err(Error::input(format!(
                    "{what}: field '{s}' is {}, not a string",
                    field.kind()
                )));
            };
            let val = &*val;
            if let Some(why) = unsafe_name_reason(val) {
                return Err(Error::input(format!(
                    "{what}: {s} {val:?} cannot be used in a file name: {why}"
                )));
            }
            out.push_str(val);
        }
        if let Some(why) = unsafe_name_reason(&out) {
            return Err(Error::input(format!(
                "{what}: file name {out:?} is not safe: {why}"
            )));
        }
        Ok(out)
    }
}

/// A check that `name` is safe to use as a file name in an output folder.
pub fn safe(name: &str, what: &str) -> Result<()> {
    match unsafe_name_reason(name) {
        Some(why) => Err(Error::input(format!(
            "{what}: {name:?} cannot be used in a file name: {why}"
        ))),
        None => Ok(()),
    }
}

/// The set of paths written so far: a second record that maps to the same
/// file is an error, not a silent overwrite.
#[derive(Default)]
pub struct Written(HashSet<PathBuf>);

impl Written {
    pub fn claim(&mut self, path: &Path, what: &str) -> Result<()> {
        if self.0.insert(path.to_path_buf()) {
            Ok(())
        } else {
            Err(Error::input(format!(
                "{what}: '{}' was already written by an earlier record (duplicate name)",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::raw::{scan, Form, Tape};

    /// (template, record, file name or the error's words)
    #[test]
    fn templates() {
        let c = "collection_{collection_id}.json";
        let cases = [
            (c, r#"{"collection_id": "abc"}"#, Ok("collection_abc.json")),
            (
                c,
                r#"{"collection_id": "a", "collection_id": "b"}"#,
                Ok("collection_b.json"),
            ),
            (c, r#"{"collection_id": "../x"}"#, Err("path separator")),
            (c, r#"{"collection_id": ".."}"#, Err("'.' or '..'")),
            (c, r#"{"collection_id": ""}"#, Err("empty")),
            (
                c,
                r#"{"collection_id": 3}"#,
                Err("field 'collection_id' is number, not a string"),
            ),
            (c, "{}", Err("has no field 'collection_id'")),
            (c, "[1]", Err("is array, not an object")),
            ("{x}", r#"{"x": "."}"#, Err("cannot be used")),
        ];
        for (t, json, want) in cases {
            let mut tape = Tape::new(1);
            scan(
                json.as_bytes(),
                Form::Check,
                &mut Vec::new(),
                Some(&mut tape),
            )
            .unwrap();
            let v = tape.root(json.as_bytes());
            let got = Template::parse(t)
                .unwrap()
                .render(v, "e")
                .map_err(|e| e.msg);
            match (got, want) {
                (Ok(name), Ok(w)) => assert_eq!(name, w, "{json}"),
                (Err(e), Err(w)) => assert!(e.starts_with("e: ") && e.contains(w), "{json}: {e}"),
                (got, want) => panic!("{json}: {got:?}, wanted {want:?}"),
            }
        }
        assert!(Template::parse("a/{x}").is_err());
        assert!(Template::parse("{x").is_err());
        assert!(Template::parse("{a-b}").is_err());
    }

    #[test]
    fn duplicates() {
        let mut w = Written::default();
        w.claim(Path::new("d/a"), "e0").unwrap();
        assert!(w
            .claim(Path::new("d/a"), "e1")
            .unwrap_err()
            .msg
            .contains("duplicate"));
    }
}
