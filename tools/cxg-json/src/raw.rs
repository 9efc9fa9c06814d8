//! Byte-level JSON for the pass-through stages: validate one value and
//! re-emit it compact (what `jq -c` prints) or indented (what `jq .`
//! prints) without building a value tree.
//!
//! Every number is copied exactly as written (`1263392533.1979759`,
//! `123456789012345678901234567890`, `1E2`, `-0` and `1e400` stay as they
//! are, as jq 1.7 keeps number literals). Strings without escapes are
//! copied as written; a string with escapes (or a DEL byte) is decoded and
//! written again with jq's escapes, so the output bytes match `jq -c`.
//! Duplicate keys are kept as written.

/// Why a value is not valid JSON, at a byte offset into the value's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub offset: usize,
    pub msg: String,
}

/// Nesting deeper than this is refused (as serde_json refuses beyond 128).
const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

fn newline(out: &mut Vec<u8>, indent: Option<usize>) {
    if let Some(n) = indent {
        out.push(b'\n');
        for _ in 0..n {
            out.extend_from_slice(b"  ");
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Write `text` as a JSON string with jq's escapes: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, other control characters and DEL as `\u00XX`.
pub fn write_str(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in text.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[run..i]);
        run = i + 1;
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(&text[run..]);
    out.push(b'"');
}

impl<'a> Parser<'a> {
    fn new(s: &'a [u8]) -> Self {
        Parser { s, i: 0, depth: 0 }
    }

    fn fault(&self, msg: impl Into<String>) -> Fault {
        Fault {
            offset: self.i,
            msg: msg.into(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// One whole value (surrounding whitespace allowed), then end of text.
    fn document(&mut self, out: &mut Vec<u8>, indent: Option<usize>) -> Result<(), Fault> {
        self.value(out, indent)?;
        self.ws();
        if self.i < self.s.len() {
            return Err(self.fault("trailing characters"));
        }
        Ok(())
    }

    fn value(&mut self, out: &mut Vec<u8>, indent: Option<usize>) -> Result<(), Fault> {
        self.ws();
        match self.peek() {
            None => Err(self.fault("EOF while parsing a value")),
            Some(b'{') => self.container(out, indent, b'}'),
            Some(b'[') => self.container(out, indent, b']'),
            Some(b'"') => self.string(out).map(drop),
            Some(b't') => self.literal(b"true", out),
            Some(b'f') => self.literal(b"false", out),
            Some(b'n') => self.literal(b"null", out),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.fault("expected value")),
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Result<(), Fault> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.fault("expected value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), Fault> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.fault("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.fault("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.fault("invalid number"));
            }
        }
        out.extend_from_slice(&self.s[start..self.i]);
        Ok(())
    }

    /// A string, re-emitted; returns its decoded text when it had escapes
    /// (`None`: the text is the bytes between the quotes, as written).
    fn string(&mut self, out: &mut Vec<u8>) -> Result<Option<Vec<u8>>, Fault> {
        let s = self.s;
        let start = self.i;
        let mut j = self.i + 1;
        while let Some(&b) = s.get(j) {
            if b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f {
                break;
            }
            j += 1;
        }
        if s.get(j) == Some(&b'"') {
            if let Err(e) = std::str::from_utf8(&s[start + 1..j]) {
                self.i = start + 1 + e.valid_up_to();
                return Err(self.fault("invalid unicode code point"));
            }
            out.extend_from_slice(&s[start..=j]);
            self.i = j + 1;
            return Ok(None);
        }
        let mut text = s[start + 1..j].to_vec();
        self.i = j;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.fault("EOF while parsing a string"));
            };
            match b {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    self.i += 1;
                    self.escape(&mut text)?;
                }
                0..=0x1f => {
                    return Err(self
                        .fault("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                _ => {
                    text.push(b);
                    self.i += 1;
                }
            }
        }
        if let Err(e) = std::str::from_utf8(&text) {
            self.i = start + 1 + e.valid_up_to().min(j - start - 1);
            return Err(self.fault("invalid unicode code point"));
        }
        write_str(out, &text);
        Ok(Some(text))
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.fault("EOF while parsing a string"))?;
        let mut n = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.fault("invalid escape"))?;
            n = n * 16 + d;
        }
        self.i += 4;
        Ok(n)
    }

    fn escape(&mut self, text: &mut Vec<u8>) -> Result<(), Fault> {
        let Some(c) = self.peek() else {
            return Err(self.fault("EOF while parsing a string"));
        };
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if !self.s[self.i..].starts_with(b"\\u") {
                        return Err(self.fault("lone leading surrogate in hex escape"));
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.fault("lone leading surrogate in hex escape"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(self.fault("unexpected end of hex escape"));
                } else {
                    hi
                };
                char::from_u32(code).ok_or_else(|| self.fault("invalid escape"))?
            }
            _ => {
                self.i -= 1;
                return Err(self.fault("invalid escape"));
            }
        };
        let mut b = [0u8; 4];
        text.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fault("recursion limit exceeded"));
        }
        Ok(())
    }

    fn container(
        &mut self,
        out: &mut Vec<u8>,
        indent: Option<usize>,
        close: u8,
    ) -> Result<(), Fault> {
        self.enter()?;
        out.push(self.s[self.i]);
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            out.push(close);
            self.depth -= 1;
            return Ok(());
        }
        let inner = indent.map(|n| n + 1);
        loop {
            newline(out, inner);
            if close == b'}' {
                self.ws();
                match self.peek() {
                    Some(b'"') => {
                        self.string(out)?;
                    }
                    None => return Err(self.fault("EOF while parsing an object")),
                    Some(_) => return Err(self.fault("key must be a string")),
                }
                self.ws();
                match self.peek() {
                    Some(b':') => self.i += 1,
                    None => return Err(self.fault("EOF while parsing an object")),
                    Some(_) => return Err(self.fault("expected `:`")),
                }
                out.push(b':');
                if indent.is_some() {
                    out.push(b' ');
                }
            }
            self.value(out, inner)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    out.push(b',');
                }
                Some(c) if c == close => {
                    self.i += 1;
                    break;
                }
                None => return Err(self.fault("EOF while parsing a list or object")),
                Some(_) if close == b'}' => {
                    return Err(self.fault("expected `,` or `}`"));
                }
                Some(_) => return Err(self.fault("expected `,` or `]`")),
            }
        }
        newline(out, indent);
        out.push(close);
        self.depth -= 1;
        Ok(())
    }
}

/// Validate the JSON value in `src` and append it to `out`, compact (as
/// `jq -c`) or indented (as `jq .`), numbers exactly as written. Nothing
/// is appended when the text is invalid.
pub fn emit(src: &[u8], pretty: bool, out: &mut Vec<u8>) -> Result<(), Fault> {
    let mark = out.len();
    let r = Parser::new(src).document(out, pretty.then_some(0));
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

/// 1-based line and column of byte `offset` in `src`.
pub fn line_col(src: &[u8], offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    (line, col + 1)
}

/// One member of an object in compact JSON text: the key as written in
/// it (quoted) and the value's text, both borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key with its quotes, as [`emit`] writes it.
    pub key_json: &'a [u8],
    pub value: &'a [u8],
}

impl Member<'_> {
    /// True when the key is `name` (a plain key, without escapes).
    pub fn is(&self, name: &str) -> bool {
        self.key_json.len() == name.len() + 2
            && &self.key_json[1..self.key_json.len() - 1] == name.as_bytes()
    }
}

/// The end of the value starting at `i` in compact JSON text (as [`emit`]
/// writes it): a structural scan, no validation.
fn skip(s: &[u8], mut i: usize) -> usize {
    match s.get(i) {
        Some(b'"') => {
            i += 1;
            while let Some(&b) = s.get(i) {
                match b {
                    b'\\' => i += 2,
                    b'"' => return i + 1,
                    _ => i += 1,
                }
            }
            s.len()
        }
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            while let Some(&b) = s.get(i) {
                match b {
                    b'"' => {
                        i = skip(s, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            s.len()
        }
        _ => {
            while let Some(&b) = s.get(i) {
                if matches!(b, b',' | b']' | b'}') {
                    break;
                }
                i += 1;
            }
            i
        }
    }
}

/// The members of the object in compact JSON text `src` (as [`emit`]
/// writes it), in order, borrowed; `None` when `src` is not an object.
pub fn members(src: &[u8]) -> Option<Vec<Member<'_>>> {
    if src.first() != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < src.len() && src[i] != b'}' {
        let k = skip(src, i);
        let v = skip(src, k + 1);
        out.push(Member {
            key_json: &src[i..k],
            value: src.get(k + 1..v)?,
        });
        i = v + 1; // past ',' (or onto the closing '}')
        if src.get(v) == Some(&b'}') {
            break;
        }
    }
    Some(out)
}

/// The elements of the array in compact JSON text `src` (as [`emit`]
/// writes it), borrowed; `None` when `src` is not an array.
pub fn elements(src: &[u8]) -> Option<Vec<&[u8]>> {
    if src.first() != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < src.len() && src[i] != b']' {
        let e = skip(src, i);
        out.push(src.get(i..e)?);
        if src.get(e) == Some(&b']') {
            break;
        }
        i = e + 1;
    }
    Some(out)
}

/// The members of the object in untrusted JSON text `src` (whitespace
/// allowed), as `(key, value)` text slices, found by a structural scan:
/// nothing is validated, so check each slice (with [`emit`]) before use.
/// `None` when the text is not laid out as one object.
pub fn split_members(src: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let ws = |i: &mut usize| {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = src.get(*i) {
            *i += 1;
        }
    };
    let mut i = 0;
    ws(&mut i);
    if src.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    let mut out = Vec::new();
    if src.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            ws(&mut i);
            if src.get(i) != Some(&b'"') {
                return None;
            }
            let k = skip_loose(src, i)?;
            let key = &src[i..k];
            i = k;
            ws(&mut i);
            if src.get(i) != Some(&b':') {
                return None;
            }
            i += 1;
            ws(&mut i);
            let v = skip_loose(src, i)?;
            out.push((key, &src[i..v]));
            i = v;
            ws(&mut i);
            match src.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut i);
    (i == src.len()).then_some(out)
}

/// The end of the value starting at `i` in untrusted text (structure only).
fn skip_loose(s: &[u8], i: usize) -> Option<usize> {
    match s.get(i)? {
        b'"' | b'{' | b'[' => {
            let e = skip(s, i);
            (e <= s.len() && e > i && matches!(s[e - 1], b'"' | b'}' | b']')).then_some(e)
        }
        _ => {
            let mut e = i;
            while let Some(&b) = s.get(e) {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                e += 1;
            }
            (e > i).then_some(e)
        }
    }
}

/// jq's name for the type of the compact JSON text `v`.
pub fn kind(v: &[u8]) -> &'static str {
    match v.first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// The text of the compact JSON string `v`, or `None` when `v` is not a
/// string.
pub fn as_str(v: &[u8]) -> Option<String> {
    if v.first() != Some(&b'"') {
        return None;
    }
    let mut sink = Vec::new();
    let mut p = Parser::new(v);
    match p.string(&mut sink) {
        Ok(Some(t)) => String::from_utf8(t).ok(),
        Ok(None) => std::str::from_utf8(&v[1..v.len() - 1])
            .ok()
            .map(String::from),
        Err(_) => None,
    }
}

/// The object `{members...}` as compact text.
pub fn object(members: &[Member<'_>], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m.key_json);
        out.push(b':');
        out.extend_from_slice(m.value);
    }
    out.push(b'}');
}

/// A stand-in `serde_json::Value` for the JSON text `v` that keeps the
/// strings of a top-level object and the type of every other value
/// (numbers become 0, containers empty): enough for name templates and
/// type messages, without reading numbers.
pub fn shadow(v: &[u8]) -> serde_json::Value {
    use serde_json::Value;
    let one = |v: &[u8]| match kind(v) {
        "string" => as_str(v).map_or(Value::Null, Value::String),
        "object" => Value::Object(Default::default()),
        "array" => Value::Array(Vec::new()),
        "boolean" => Value::Bool(v[0] == b't'),
        "null" => Value::Null,
        _ => Value::from(0),
    };
    let mut compact = Vec::new();
    if emit(v, false, &mut compact).is_err() {
        return Value::Null;
    }
    match members(&compact) {
        Some(ms) => Value::Object(
            ms.iter()
                .map(|m| {
                    let key = as_str(m.key_json).unwrap_or_default();
                    (key, one(m.value))
                })
                .collect(),
        ),
        None => one(&compact),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn compact(s: &str) -> Result<String, Fault> {
        let mut out = Vec::new();
        emit(s.as_bytes(), false, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn numbers_are_copied_as_written() {
        let doc =
            "[ 1263392533.1979759, 123456789012345678901234567890, 1E2, -0, 1e400, -1.5e-7, 0.10 ]";
        assert_eq!(
            compact(doc).unwrap(),
            "[1263392533.1979759,123456789012345678901234567890,1E2,-0,1e400,-1.5e-7,0.10]"
        );
        for bad in ["01", "1.", ".5", "-", "1e", "+1", "1.e3", "NaN", "Infinity"] {
            assert!(compact(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_are_written_as_jq_writes_them() {
        assert_eq!(
            compact(r#"{"s":"a\u007fb\n\u0001é\/ \ud83d\ude00 \"q\""}"#).unwrap(),
            "{\"s\":\"a\\u007fb\\n\\u0001é/ 😀 \\\"q\\\"\"}"
        );
        assert_eq!(compact("\"a\u{7f}\"").unwrap(), "\"a\\u007f\"");
        for bad in [
            "\"a\nb\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"abc",
            "\"\\u12\"",
        ] {
            assert!(compact(bad).is_err(), "{bad}");
        }
        let mut out = Vec::new();
        assert!(emit(b"\"\xff\"", false, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn structure_is_checked_and_indented_as_jq() {
        for bad in [
            "{\"a\":1,}",
            "[1,]",
            "{\"a\" 1}",
            "{1:2}",
            "[1 2]",
            "{\"a\":1",
            "[1] 2",
            "",
            "tru",
        ] {
            assert!(compact(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(600) + &"]".repeat(600);
        assert!(compact(&deep).unwrap_err().msg.contains("recursion"));
        let mut out = Vec::new();
        emit(
            br#"{"a": [1, {}], "b": [], "c": {"d": 1.50}}"#,
            true,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": [],\n  \"c\": {\n    \"d\": 1.50\n  }\n}"
        );
    }

    #[test]
    fn members_and_elements() {
        let mut c = Vec::new();
        emit(
            br#" {"a\u0062" : [1, {"x":"]"}] , "n":1e400, "s":"x\"y,}", "e":{}} "#,
            false,
            &mut c,
        )
        .unwrap();
        let m = members(&c).unwrap();
        assert_eq!(m.len(), 4);
        assert!(m[0].is("ab"));
        assert_eq!(m[0].key_json, b"\"ab\"");
        assert_eq!(m[0].value, br#"[1,{"x":"]"}]"#);
        assert_eq!(m[1].value, b"1e400");
        assert_eq!(as_str(m[2].value).unwrap(), "x\"y,}");
        assert_eq!(m[3].value, b"{}");
        assert_eq!(members(b"[1]"), None);
        assert_eq!(members(b"{}").unwrap().len(), 0);
        let e = elements(m[0].value).unwrap();
        assert_eq!(e, vec![&b"1"[..], &br#"{"x":"]"}"#[..]]);
        assert_eq!(elements(b"[]").unwrap().len(), 0);
        let mut out = Vec::new();
        object(&[m[1], m[0]], &mut out);
        assert_eq!(out, br#"{"n":1e400,"ab":[1,{"x":"]"}]}"#);
        assert_eq!(shadow(&c)["s"], serde_json::Value::String("x\"y,}".into()));
        assert_eq!(shadow(b" [1] "), serde_json::json!([]));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        let sm =
            split_members(b" { \"a\" : [1, \"]\"] ,\n\"b\":-1e5 , \"c\":{\"d\":\"}\"}} ").unwrap();
        assert_eq!(
            sm,
            vec![
                (&b"\"a\""[..], &b"[1, \"]\"]"[..]),
                (&b"\"b\""[..], &b"-1e5"[..]),
                (&b"\"c\""[..], &b"{\"d\":\"}\"}"[..])
            ]
        );
        assert_eq!(split_members(b"{}").unwrap().len(), 0);
        for bad in [
            &b"[1]"[..],
            b"{\"a\":1",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"{\"a\":[1}",
            b"{} x",
        ] {
            assert!(
                split_members(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
