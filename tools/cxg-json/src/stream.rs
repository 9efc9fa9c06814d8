//! Streaming JSON input and jq-compatible JSON output.
//!
//! [`JsonStream`] reads either one top-level JSON array or JSON Lines
//! (concatenated objects), auto-detected from the first byte, and yields
//! one element at a time: memory grows with the largest element, not the
//! document. A fast byte scanner finds each element's extent; serde_json
//! then parses just that slice, so errors carry absolute line numbers.

use cxg_core::error::{Error, Result};
use serde_json::Value;
use std::io::{self, Read, Write};

/// How the input was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Not yet known (nothing read).
    Unknown,
    /// One top-level array.
    Array,
    /// JSON Lines: one object after another.
    Lines,
}

/// Where an element started: its 0-based index, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

/// [`JsonStream::place`] without the stream.
#[derive(Debug, Clone)]
pub struct Placer {
    name: String,
    layout: Layout,
}

impl Placer {
    pub fn place(&self, at: Pos) -> String {
        match self.layout {
            Layout::Array => format!(
                "{}: line {}: array element {}",
                self.name, at.line, at.index
            ),
            _ => format!("{}: line {}: record {}", self.name, at.line, at.index + 1),
        }
    }
}

/// A streaming reader of array elements or JSON Lines values.
pub struct JsonStream<R> {
    name: String,
    r: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    line: usize,
    /// Absolute offset of buf[0] in the input.
    consumed: u64,
    /// Absolute offset where the current line starts.
    line_start: u64,
    layout: Layout,
    done: bool,
    index: usize,
}

const CHUNK: usize = 1 << 16;

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl<R: Read> JsonStream<R> {
    /// `name` is how messages name the input (`'file.json'`, `stdin`).
    pub fn new(name: impl Into<String>, r: R) -> Self {
        JsonStream {
            name: name.into(),
            r,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            consumed: 0,
            line_start: 0,
            layout: Layout::Unknown,
            done: false,
            index: 0,
        }
    }

    /// How messages name the element that started at `at`:
    /// `NAME: line L: array element I` or `NAME: line L: record N`.
    pub fn place(&self, at: Pos) -> String {
        match self.layout {
            Layout::Array => format!(
                "{}: line {}: array element {}",
                self.name, at.line, at.index
            ),
            _ => format!("{}: line {}: record {}", self.name, at.line, at.index + 1),
        }
    }

    /// How messages name elements, detached from the stream (to name them
    /// later or on another thread).
    pub fn placer(&self) -> Placer {
        Placer {
            name: self.name.clone(),
            layout: self.layout,
        }
    }

    /// The layout detected so far.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn err(&self, line: usize, msg: impl std::fmt::Display) -> Error {
        Error::input(format!("{}: line {line}: {msg}", self.name))
    }

    /// Move unread bytes to the front and read more. Returns how far the
    /// unread bytes moved, or 0 at end of input.
    fn fill(&mut self) -> Result<usize> {
        let shift = self.pos;
        self.consumed += shift as u64;
        if shift > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= shift;
            self.pos = 0;
        }
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(shift);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(shift);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::input(format!("cannot read {}: {e}", self.name))),
            }
        }
    }

    /// Skip whitespace; returns the next byte without consuming it, or
    /// `None` at end of input.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let c = self.buf[self.pos];
                if !is_ws(c) {
                    return Ok(Some(c));
                }
                if c == b'\n' {
                    self.line += 1;
                    self.line_start = self.consumed + self.pos as u64 + 1;
                }
                self.pos += 1;
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Find the end of the value that starts at `self.pos`, reading more
    /// input as needed. Returns the end index (exclusive) in `self.buf`.
    fn scan_value(&mut self) -> Result<usize> {
        let first = self.buf[self.pos];
        if first == b'{' || first == b'[' {
            return self.scan_container();
        }
        let mut i = self.pos;
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let container = first == b'{' || first == b'[';
        let string = first == b'"';
        loop {
            while i < self.end {
                let c = self.buf[i];
                if container || (string && i > self.pos) {
                    if in_str {
                        if esc {
                            esc = false;
                        } else if c == b'\\' {
                            esc = true;
                        } else if c == b'"' {
                            in_str = false;
                            if string {
                                return Ok(i + 1);
                            }
                        }
                    } else {
                        match c {
                            b'"' => in_str = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    return Ok(i + 1);
                                }
                            }
                            _ => {}
                        }
                    }
                } else if string {
                    in_str = true; // the opening quote
                } else if is_ws(c) || matches!(c, b',' | b']' | b'}') {
                    return Ok(i);
                }
                i += 1;
            }
            if self.eof {
                if !container && !string && i > self.pos {
                    return Ok(i); // a scalar ending the input
                }
                return Err(self.truncated(i));
            }
            let shift = self.fill()?;
            i -= shift;
        }
    }

    /// [`Self::scan_value`] for an object or array: a tight loop over
    /// brackets and strings (the hot path of every stage).
    fn scan_container(&mut self) -> Result<usize> {
        let mut i = self.pos;
        let mut depth = 0usize;
        let mut in_str = false;
        loop {
            let buf = &self.buf[..self.end];
            while i < buf.len() {
                if in_str {
                    while i < buf.len() && buf[i] != b'"' && buf[i] != b'\\' {
                        i += 1;
                    }
                    match buf.get(i) {
                        Some(b'\\') => i += 2, // may step past the end: the next fill keeps it
                        Some(_) => {
                            in_str = false;
                            i += 1;
                        }
                        None => {}
                    }
                    continue;
                }
                match buf[i] {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if self.eof {
                return Err(self.truncated(self.end));
            }
            let shift = self.fill()?;
            i -= shift;
            if self.eof && i >= self.end {
                return Err(self.truncated(self.end));
            }
        }
    }

    /// The error for input that ends inside an element: serde_json's own
    /// diagnosis of the partial text, which names a mismatched bracket or
    /// an unexpected end precisely.
    fn truncated(&self, end: usize) -> Error {
        let part = &self.buf[self.pos..end];
        match serde_json::from_slice::<serde::de::IgnoredAny>(part) {
            Err(e) => self.parse_error(self.here(), &e),
            Ok(_) => self.err(self.line, "unexpected end of input (truncated JSON?)"),
        }
    }

    /// The position of the byte at `self.pos`.
    fn here(&self) -> Pos {
        let abs = self.consumed + self.pos as u64;
        Pos {
            index: self.index,
            line: self.line,
            column: (abs - self.line_start.min(abs)) as usize + 1,
        }
    }

    fn parse_error(&self, at: Pos, e: &serde_json::Error) -> Error {
        let line = at.line + e.line().saturating_sub(1);
        // serde_json counts columns within the element's own text
        let column = if e.line() <= 1 {
            at.column + e.column().saturating_sub(1)
        } else {
            e.column()
        };
        let what = match self.layout {
            Layout::Array => format!("array element {}", at.index),
            _ => format!("record {}", at.index + 1),
        };
        let msg = bare_message(e);
        let msg = if e.is_eof() {
            format!("{msg} (truncated JSON?)")
        } else {
            msg
        };
        Error::input(format!(
            "{}: line {line}, column {column}: invalid JSON in {what}: {msg}",
            self.name
        ))
    }

    /// The raw bytes of the next element, with where it started.
    pub fn next_raw(&mut self) -> Result<Option<(Pos, &[u8])>> {
        if self.done {
            return Ok(None);
        }
        if self.layout == Layout::Unknown {
            if self.end == 0 && !self.eof {
                self.fill()?;
                if self.buf[..self.end].starts_with(b"\xEF\xBB\xBF") {
                    self.pos = 3;
                }
            }
            match self.peek()? {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(b'[') => {
                    self.layout = Layout::Array;
                    self.pos += 1;
                    if self.peek()? == Some(b']') {
                        self.pos += 1;
                        return self.finish_array();
                    }
                }
                Some(b'{') => self.layout = Layout::Lines,
                Some(c) => {
                    return Err(self.err(
                        self.line,
                        format!(
                            "expected a JSON array or JSON Lines of objects, found {}",
                            describe(c)
                        ),
                    ))
                }
            }
        } else if self.layout == Layout::Array {
            match self.peek()? {
                Some(b',') => {
                    self.pos += 1;
                }
                Some(b']') => {
                    self.pos += 1;
                    return self.finish_array();
                }
                Some(c) => {
                    return Err(self.err(
                        self.line,
                        format!(
                            "expected ',' or ']' after array element {}, found {}",
                            self.index - 1,
                            describe(c)
                        ),
                    ))
                }
                None => {
                    return Err(self.err(
                        self.line,
                        "unexpected end of input inside the top-level array (truncated JSON?)",
                    ))
                }
            }
        }
        let c = match self.peek()? {
            Some(c) => c,
            None if self.layout == Layout::Lines => {
                self.done = true;
                return Ok(None);
            }
            None => {
                return Err(self.err(
                    self.line,
                    "unexpected end of input inside the top-level array (truncated JSON?)",
                ))
            }
        };
        if self.layout == Layout::Lines && c != b'{' {
            return Err(self.err(
                self.line,
                format!(
                    "record {}: expected a JSON object, found {}",
                    self.index + 1,
                    describe(c)
                ),
            ));
        }
        if self.layout == Layout::Array && matches!(c, b']' | b',') {
            return Err(self.err(
                self.line,
                format!("expected an array element, found {}", describe(c)),
            ));
        }
        let end = self.scan_value()?;
        let at = self.here();
        let start = self.pos;
        let text = &self.buf[start..end];
        let newlines = text.iter().filter(|&&b| b == b'\n').count();
        if newlines > 0 {
            self.line += newlines;
            let last = text.iter().rposition(|&b| b == b'\n').unwrap_or(0);
            self.line_start = self.consumed + (start + last) as u64 + 1;
        }
        self.pos = end;
        self.index += 1;
        Ok(Some((at, &self.buf[start..end])))
    }

    fn finish_array(&mut self) -> Result<Option<(Pos, &[u8])>> {
        self.done = true;
        match self.peek()? {
            None => Ok(None),
            Some(c) => Err(self.err(
                self.line,
                format!(
                    "unexpected {} after the end of the top-level array",
                    describe(c)
                ),
            )),
        }
    }

    /// The next element, validated and appended to `out` compact (as `jq -c`
    /// prints it) or indented (as `jq .`), numbers exactly as written and
    /// no value tree built. Returns where the element started.
    pub fn next_emit(&mut self, pretty: bool, out: &mut Vec<u8>) -> Result<Option<Pos>> {
        let (at, fault, serde_err) = {
            let (at, bytes) = match self.next_raw()? {
                Some(x) => x,
                None => return Ok(None),
            };
            match crate::raw::emit(bytes, pretty, out) {
                Ok(()) => return Ok(Some(at)),
                Err(f) => {
                    let (line, col) = crate::raw::line_col(bytes, f.offset);
                    // serde_json's own diagnosis, when it has one, reads best
                    let se = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).err();
                    (at, (line, col, f.msg), se)
                }
            }
        };
        if let Some(e) = serde_err {
            // except for numbers out of its range, which are valid JSON
            if !e.to_string().starts_with("number out of range") {
                return Err(self.parse_error(at, &e));
            }
        }
        Err(self.fault_error(at, fault.0, fault.1, &fault.2))
    }

    /// An invalid element, at 1-based `line` and `column` of its own text.
    pub fn fault_error(&self, at: Pos, line: usize, column: usize, msg: &str) -> Error {
        let column = if line <= 1 {
            at.column + column - 1
        } else {
            column
        };
        let what = match self.layout {
            Layout::Array => format!("array element {}", at.index),
            _ => format!("record {}", at.index + 1),
        };
        Error::input(format!(
            "{}: line {}, column {column}: invalid JSON in {what}: {msg}",
            self.name,
            at.line + line - 1
        ))
    }

    /// The next element, parsed.
    pub fn next_value(&mut self) -> Result<Option<(Pos, Value)>> {
        self.next_as::<Value>()
    }

    /// The next element, parsed into any deserializable type (for example
    /// [`serde::de::IgnoredAny`] to validate without building a tree).
    pub fn next_as<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<(Pos, T)>> {
        let (at, bytes) = match self.next_raw()? {
            Some(x) => x,
            None => return Ok(None),
        };
        match serde_json::from_slice::<T>(bytes) {
            Ok(v) => Ok(Some((at, v))),
            Err(e) => Err(self.parse_error(at, &e)),
        }
    }
}

fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// Parse valid JSON text into a jq value, keeping number literals as
/// written (jaq's decimal numbers print as they were read; integers of any
/// size stay exact). For text already checked by [`crate::raw::emit`].
pub fn to_jq(bytes: &[u8]) -> std::result::Result<crate::jq::Val, String> {
    jaq_json::read::parse_single(bytes).map_err(|e| e.to_string())
}

/// A jq object from `(key, value)` members in order (a repeated key keeps
/// its first place and its last value, as jq's reader does).
pub fn jq_object(members: impl IntoIterator<Item = (String, crate::jq::Val)>) -> crate::jq::Val {
    let mut m = jaq_json::Map::default();
    for (k, v) in members {
        m.insert(crate::jq::Val::utf8_str(k), v);
    }
    crate::jq::Val::obj(m)
}

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

/// Write `v` compact or pretty, followed by a newline.
pub fn write_line<W: Write + ?Sized>(w: &mut W, v: &Value, pretty: bool) -> io::Result<()> {
    if pretty {
        write_pretty(w, v)?;
    } else {
        write_compact(w, v)?;
    }
    w.write_all(b"\n")
}

/// Remove the whitespace between tokens of valid JSON text, keeping every
/// string and number exactly as written.
pub fn minify(json: &[u8], out: &mut Vec<u8>) {
    out.reserve(json.len());
    let mut in_str = false;
    let mut esc = false;
    let mut run = 0;
    for (i, &c) in json.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if is_ws(c) {
            out.extend_from_slice(&json[run..i]);
            run = i + 1;
        } else if c == b'"' {
            in_str = true;
        }
    }
    out.extend_from_slice(&json[run..]);
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
pub struct AnyObject;

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

    fn all(input: &str) -> Result<Vec<Value>> {
        let mut s = JsonStream::new("test", input.as_bytes());
        let mut out = Vec::new();
        while let Some((_, v)) = s.next_value()? {
            out.push(v);
        }
        Ok(out)
    }

    fn err(input: &str) -> String {
        all(input).unwrap_err().msg
    }

    #[test]
    fn arrays_and_lines() {
        assert_eq!(all("[]").unwrap(), Vec::<Value>::new());
        assert_eq!(all("").unwrap(), Vec::<Value>::new());
        assert_eq!(all(" [1, \"a]\" ,{\"b\":[2]} ] \n").unwrap().len(), 3);
        assert_eq!(all("{\"a\":1}\n{\"a\":2}\n").unwrap().len(), 2);
        assert_eq!(all("{\"a\":1}{\"a\":2}").unwrap().len(), 2);
        assert_eq!(all("\u{feff}[{\"a\":\"\\\"}\"}]").unwrap()[0]["a"], "\"}");
        assert_eq!(all("[1,2]").unwrap(), vec![Value::from(1), Value::from(2)]);
    }

    #[test]
    fn key_order_is_kept() {
        let v = &all("[{\"z\":1,\"a\":2,\"m\":3}]").unwrap()[0];
        let mut out = Vec::new();
        write_compact(&mut out, v).unwrap();
        assert_eq!(out, br#"{"z":1,"a":2,"m":3}"#);
    }

    #[test]
    fn streams_elements_larger_than_a_chunk() {
        let big = "x".repeat(3 * CHUNK);
        let doc = format!("[{{\"s\":\"{big}\"}},{{\"s\":\"{big}\"}}]");
        let v = all(&doc).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["s"].as_str().unwrap().len(), 3 * CHUNK);
    }

    #[test]
    fn escapes_split_across_a_chunk_boundary() {
        // a backslash just before, on and just after the end of a read
        for shift in 0..6 {
            for esc in [r#"\""#, r"\\", r"\u0041"] {
                let head = "[{\"s\":\"";
                let pad = "y".repeat(CHUNK - head.len() - 3 + shift);
                let doc = format!("{head}{pad}{esc}z\"}},{{\"t\":1}}]");
                let v = all(&doc).unwrap_or_else(|e| panic!("shift {shift} {esc}: {}", e.msg));
                assert_eq!(v.len(), 2, "shift {shift} {esc}");
                let want: serde_json::Value =
                    serde_json::from_str(&format!("\"{pad}{esc}z\"")).unwrap();
                assert_eq!(v[0]["s"], want, "shift {shift} {esc}");
                assert_eq!(v[1]["t"], 1);
            }
        }
    }

    #[test]
    fn errors_name_input_and_line() {
        assert_eq!(
            err("[{\"a\":1},\n{\"a\":"),
            "test: line 2, column 5: invalid JSON in array element 1: EOF while parsing a value (truncated JSON?)"
        );
        // columns count from the start of the line, not of the element
        assert_eq!(
            err("[{\"a\":1}, {\"a\": x}]"),
            "test: line 1, column 17: invalid JSON in array element 1: expected value"
        );
        assert!(err("[{\"a\":1}").contains("truncated"));
        assert!(err("[{\"a\":1},").contains("truncated"));
        assert_eq!(
            err("42"),
            "test: line 1: expected a JSON array or JSON Lines of objects, found '4'"
        );
        assert!(err("\"s\"").contains("expected a JSON array"));
        assert!(err("[1] [2]").contains("after the end of the top-level array"));
        assert!(err("{\"a\":1}\n[2]").contains("record 2: expected a JSON object"));
        assert!(err("[{\"a\": [}]").starts_with("test: line 1, column"));
        assert!(err("[1 2]").contains("expected ',' or ']'"));
        assert!(err("[,1]").contains("expected an array element"));
        let bad_utf8 = all_bytes(b"[\"\xff\"]").unwrap_err().msg;
        assert!(bad_utf8.contains("line 1"), "{bad_utf8}");
    }

    fn all_bytes(input: &[u8]) -> Result<Vec<Value>> {
        let mut s = JsonStream::new("test", input);
        let mut out = Vec::new();
        while let Some((_, v)) = s.next_value()? {
            out.push(v);
        }
        Ok(out)
    }

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

    #[test]
    fn minify_keeps_strings_and_numbers() {
        let mut out = Vec::new();
        minify(b"[ {\"a b\" : 1.0 ,\n \"c\":\"x \\\" y\"} ]", &mut out);
        assert_eq!(out, b"[{\"a b\":1.0,\"c\":\"x \\\" y\"}]");
    }
}
