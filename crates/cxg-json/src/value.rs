//! serde_json values in and out: written the way jq prints them, their
//! jq type names, and the check that an API response has the expected
//! shape before anything is written.

use crate::stream::{bare_message, describe, is_ws, JsonStream};
use cxg_core::error::{Error, Result};
use serde_json::Value;
use std::io::{self, Write};

/// Describe a JSON value's type the way jq does.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A writer adapter that escapes DEL (0x7f) as `\u007f`, as jq does. In
/// serialized JSON a 0x7f byte can only be a DEL inside a string.
struct JqEscape<'a, W: Write + ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for JqEscape<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while let Some(i) = buf.iter().position(|&b| b == 0x7f) {
            self.0.write_all(&buf[..i])?;
            self.0.write_all(b"\\u007f")?;
            buf = &buf[i + 1..];
        }
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn ser_err(e: serde_json::Error) -> io::Error {
    e.io_error_kind()
        .map(|k| io::Error::new(k, e.to_string()))
        .unwrap_or_else(|| io::Error::other(e.to_string()))
}

/// Write `v` the way `jq -c` prints it (key order kept), without newline.
pub fn write_compact<W: Write + ?Sized>(w: &mut W, v: &Value) -> io::Result<()> {
    serde_json::to_writer(JqEscape(w), v).map_err(ser_err)
}

/// Write `v` the way `jq .` prints it (two-space indent), without newline.
pub fn write_pretty<W: Write + ?Sized>(w: &mut W, v: &Value) -> io::Result<()> {
    serde_json::to_writer_pretty(JqEscape(w), v).map_err(ser_err)
}

/// Check that `bytes` hold one JSON array of objects (or, with
/// `array == false`, one JSON object), as an API response must, before
/// anything is written. Returns the number of elements. `name` names the
/// source in messages (for example the URL).
pub fn check_shape(name: &str, bytes: &[u8], array: bool) -> Result<usize> {
    let trimmed = bytes.iter().position(|&b| !is_ws(b));
    let Some(first) = trimmed.map(|i| bytes[i]) else {
        return Err(Error::input(format!("{name}: empty response body")));
    };
    if !array {
        if first != b'{' {
            return Err(Error::input(format!(
                "{name}: expected a JSON object, found {}",
                describe(first)
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde::de::Deserialize::deserialize(&mut de)
            .and_then(|serde::de::IgnoredAny| de.end())
            .map_err(|e| {
                Error::input(format!(
                    "{name}: line {}, column {}: invalid JSON: {}{}",
                    e.line(),
                    e.column(),
                    bare_message(&e),
                    if e.is_eof() { " (truncated body?)" } else { "" }
                ))
            })?;
        return Ok(1);
    }
    if first != b'[' {
        return Err(Error::input(format!(
            "{name}: expected a JSON array, found {}",
            describe(first)
        )));
    }
    let mut s = JsonStream::new(name, bytes);
    let mut n = 0;
    while s.next_as::<AnyObject>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Deserializes from any JSON object (and nothing else), keeping nothing.
struct AnyObject;

impl<'de> serde::Deserialize<'de> for AnyObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AnyObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<AnyObject, A::Error> {
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(AnyObject)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jq_escapes() {
        let v: Value = serde_json::from_str(r#"{"s":"a\u007fb\n\u0001é/"}"#).unwrap();
        let mut out = Vec::new();
        write_compact(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"s":"a\u007fb\n\u0001é/"}"#
        );
        let mut out = Vec::new();
        write_pretty(&mut out, &serde_json::json!({"a": [1, {}], "b": []})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}"
        );
    }

    #[test]
    fn shapes() {
        assert_eq!(check_shape("u", b"[{},{\"a\":[1]}]", true).unwrap(), 2);
        assert_eq!(check_shape("u", b" []\n", true).unwrap(), 0);
        assert_eq!(check_shape("u", b"{\"a\":1}", false).unwrap(), 1);
        let bad: [(&[u8], bool, &str); 7] = [
            (b"", true, "empty response body"),
            (b"{}", true, "expected a JSON array"),
            (b"[{},1]", true, "expected a JSON object"),
            (b"[{\"a\":", true, "truncated"),
            (b"{\"a\":1", false, "truncated"),
            (b"[]", false, "expected a JSON object"),
            (b"{} {}", false, "trailing characters"),
        ];
        for (body, array, msg) in bad {
            let e = check_shape("u", body, array).unwrap_err().msg;
            assert!(e.starts_with("u: ") && e.contains(msg), "{e}");
        }
    }
}
