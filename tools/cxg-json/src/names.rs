//! File names built from record fields, for the tools that write one file
//! per record: a `{field}` template, the safe-name rule, and duplicate
//! detection, so nothing is written outside the output folder and no file
//! is silently overwritten.

use cxg_core::error::{Error, Result};
use cxg_core::paths::unsafe_name_reason;
use serde_json::Value;
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

    /// The file name for `v`; `what` names the record in messages.
    pub fn render(&self, v: &Value, what: &str) -> Result<String> {
        let mut out = String::new();
        for (is_field, s) in &self.parts {
            if !is_field {
                out.push_str(s);
                continue;
            }
            let val = match v.get(s) {
                Some(Value::String(x)) => x,
                Some(other) => {
                    return Err(Error::input(format!(
                        "{what}: field '{s}' is {}, not a string",
                        crate::stream::type_name(other)
                    )))
                }
                None if v.is_object() => {
                    return Err(Error::input(format!("{what}: has no field '{s}'")))
                }
                None => {
                    return Err(Error::input(format!(
                        "{what}: is {}, not an object",
                        crate::stream::type_name(v)
                    )))
                }
            };
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
    use serde_json::json;

    #[test]
    fn templates() {
        let t = Template::parse("collection_{collection_id}.json").unwrap();
        assert_eq!(
            t.render(&json!({"collection_id": "abc"}), "e").unwrap(),
            "collection_abc.json"
        );
        assert!(t
            .render(&json!({"collection_id": "../x"}), "e")
            .unwrap_err()
            .msg
            .contains("path separator"));
        assert!(t.render(&json!({"collection_id": ".."}), "e").is_err());
        assert!(t.render(&json!({"collection_id": ""}), "e").is_err());
        assert!(t
            .render(&json!({"collection_id": 3}), "e")
            .unwrap_err()
            .msg
            .contains("number"));
        assert!(t
            .render(&json!({}), "e")
            .unwrap_err()
            .msg
            .contains("no field"));
        assert!(t
            .render(&json!([1]), "e")
            .unwrap_err()
            .msg
            .contains("not an object"));
        assert!(Template::parse("a/{x}").is_err());
        assert!(Template::parse("{x").is_err());
        assert!(Template::parse("{a-b}").is_err());
        let t = Template::parse("{x}").unwrap();
        assert!(t.render(&json!({"x": "."}), "e").is_err());
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
