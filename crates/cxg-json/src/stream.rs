//! Streaming JSON input.
//!
//! [`JsonStream`] reads either one top-level JSON array or JSON Lines
//! (concatenated objects), auto-detected from the first byte, and yields
//! one element at a time: memory grows with the largest element, not the
//! document. The scanner of [`crate::raw`] checks each element where it
//! lies in the read buffer (writing it out and recording its places in the
//! same pass when asked); serde_json parses an element into a type. Errors
//! name the input, the line and column, and the element.

use crate::raw::{self, Fault, Form, Tape};
use cxg_core::error::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::io::{self, Read};

/// How the input was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
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

/// How messages name the elements of one input: `NAME: line L: array
/// element I` or `NAME: line L: record N` (the one way every tool names a
/// place in its JSON input). Detached from the stream, to name elements
/// later or on another thread.
#[derive(Debug, Clone)]
pub struct Placer {
    name: String,
    layout: Layout,
}

impl Placer {
    /// `NAME: line L: array element I` or `NAME: line L: record N`.
    pub fn place(&self, at: Pos) -> String {
        format!("{}: line {}: {}", self.name, at.line, self.what(at))
    }

    /// `array element I` or `record N`.
    fn what(&self, at: Pos) -> String {
        match self.layout {
            Layout::Array => format!("array element {}", at.index),
            _ => format!("record {}", at.index + 1),
        }
    }

    /// An invalid element: `NAME: line L, column C: invalid JSON in WHAT: MSG`,
    /// from where the element started and the 1-based line and column of
    /// the fault in the element's own text.
    fn invalid(&self, at: Pos, line: usize, column: usize, msg: &str) -> Error {
        // a column on the element's first line counts from its start
        let column = if line <= 1 {
            at.column + column.saturating_sub(1)
        } else {
            column
        };
        Error::input(format!(
            "{}: line {}, column {column}: invalid JSON in {}: {msg}",
            self.name,
            at.line + line.saturating_sub(1),
            self.what(at)
        ))
    }

    /// serde_json's error in the text of the element that started at `at`.
    fn serde_error(&self, at: Pos, e: &serde_json::Error) -> Error {
        let msg = bare_message(e);
        let msg = if e.is_eof() {
            format!("{msg} (truncated JSON?)")
        } else {
            msg
        };
        self.invalid(at, e.line(), e.column(), &msg)
    }
}

/// One record as a pass-through stage copies it (see
/// [`JsonStream::next_record`]).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub at: Pos,
    /// The record's JSON text, checked.
    pub json: &'a [u8],
    /// For a JSON Lines record alone on its line: that line as read
    /// (surrounding spaces, tabs and a CRLF's `\r` included, and its `\n`
    /// unless it is the last line). `None` for an array element or a
    /// record spread over several lines.
    pub line: Option<&'a [u8]>,
    placer: &'a Placer,
}

impl Record<'_> {
    /// How messages name the record: `NAME: line L: record N` or
    /// `NAME: line L: array element I`.
    pub fn place(&self) -> String {
        self.placer.place(self.at)
    }

    /// The text to write: the line as read (with `\n` added where the last
    /// line lacks one), or one line of the JSON without the whitespace
    /// between tokens, strings and numbers as written.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self.line {
            Some(l) => out.extend_from_slice(l),
            // checked by the stream: this cannot fail
            None => drop(raw::minify(self.json, out)),
        }
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
}

/// A streaming reader of array elements or JSON Lines values.
pub struct JsonStream<R> {
    placer: Placer,
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
    /// Keep the current line's bytes in the buffer (for [`Record::line`]
    /// of JSON Lines).
    keep_line: bool,
    /// Where the text starts (after a byte-order mark).
    body_start: u64,
    /// Where the record being read starts, while its line is read to the end.
    hold: Option<u64>,
    done: bool,
    index: usize,
}

const CHUNK: usize = 1 << 16;

pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

/// serde_json's message without its " at line L column C" suffix.
pub(crate) fn bare_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `'c'` for a printable byte, else `byte 0xNN`.
pub(crate) fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> JsonStream<R> {
    /// `name` is how messages name the input (`'file.json'`, `stdin`).
    pub fn new(name: impl Into<String>, r: R) -> Self {
        JsonStream {
            placer: Placer {
                name: name.into(),
                layout: Layout::Unknown,
            },
            r,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            consumed: 0,
            line_start: 0,
            keep_line: false,
            body_start: 0,
            hold: None,
            done: false,
            index: 0,
        }
    }

    /// How messages name the element that started at `at`:
    /// `NAME: line L: array element I` or `NAME: line L: record N`.
    pub fn place(&self, at: Pos) -> String {
        self.placer.place(at)
    }

    /// How messages name elements, detached from the stream (to name them
    /// later or on another thread).
    pub fn placer(&self) -> Placer {
        self.placer.clone()
    }

    fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::input(format!("{}: line {}: {msg}", self.placer.name, self.line))
    }

    /// Move unread bytes (and, for [`Record::line`], the current line) to
    /// the front, then read until `want` bytes are unread, or `min` are
    /// and the source paused (a read gave less than it was offered, as a
    /// pipe does when its writer has not written more yet), or the input
    /// ends.
    fn fill(&mut self, min: usize, want: usize) -> Result<()> {
        let mut shift = self.pos;
        // (an array may be one long line: its lines are never kept)
        if self.keep_line && self.placer.layout != Layout::Array {
            let keep = self.line_start.min(self.hold.unwrap_or(u64::MAX));
            shift = shift.min(keep.saturating_sub(self.consumed) as usize);
        }
        self.consumed += shift as u64;
        if shift > 0 {
            self.buf.copy_within(shift..self.end, 0);
            self.end -= shift;
            self.pos -= shift;
        }
        while !self.eof && self.end - self.pos < want {
            if self.buf.len() < self.end + CHUNK {
                self.buf.resize((self.end + CHUNK).max(self.pos + want), 0);
            }
            let offered = self.buf.len() - self.end;
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    if n < offered && self.end - self.pos >= min {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::input(format!(
                        "cannot read {}: {e}",
                        self.placer.name
                    )))
                }
            }
        }
        Ok(())
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
            self.fill(1, 1)?;
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

    /// Detect the layout from the first byte (after a byte-order mark and
    /// whitespace). False: the input is empty or an empty array.
    fn detect(&mut self) -> Result<bool> {
        if self.end == 0 && !self.eof {
            self.fill(BOM.len(), BOM.len())?;
            if self.buf[..self.end].starts_with(BOM) {
                self.pos = BOM.len();
                self.body_start = BOM.len() as u64;
            }
        }
        match self.peek()? {
            None => Ok(false),
            Some(b'[') => {
                self.placer.layout = Layout::Array;
                self.pos += 1;
                if self.peek()? == Some(b']') {
                    self.pos += 1;
                    self.finish_array()?;
                    return Ok(false);
                }
                Ok(true)
            }
            Some(b'{') => {
                self.placer.layout = Layout::Lines;
                Ok(true)
            }
            Some(c) => Err(self.err(format_args!(
                "expected a JSON array or JSON Lines of objects, found {}",
                describe(c)
            ))),
        }
    }

    /// After the top-level array's `]`: only whitespace may follow.
    fn finish_array(&mut self) -> Result<()> {
        match self.peek()? {
            None => Ok(()),
            Some(c) => Err(self.err(format_args!(
                "unexpected {} after the end of the top-level array",
                describe(c)
            ))),
        }
    }

    /// Move to the start of the next element: true when there is one.
    fn seek_element(&mut self) -> Result<bool> {
        const CUT: &str = "unexpected end of input inside the top-level array (truncated JSON?)";
        if self.done {
            return Ok(false);
        }
        let more = match self.placer.layout {
            Layout::Unknown => self.detect()?,
            Layout::Array if self.index == 0 => true,
            Layout::Array => match self.peek()? {
                Some(b',') => {
                    self.pos += 1;
                    true
                }
                Some(b']') => {
                    self.pos += 1;
                    self.finish_array()?;
                    false
                }
                Some(c) => {
                    return Err(self.err(format_args!(
                        "expected ',' or ']' after array element {}, found {}",
                        self.index - 1,
                        describe(c)
                    )))
                }
                None => return Err(self.err(CUT)),
            },
            Layout::Lines => true,
        };
        if !more {
            self.done = true;
            return Ok(false);
        }
        match (self.peek()?, self.placer.layout) {
            (None, Layout::Lines) => {
                self.done = true;
                Ok(false)
            }
            (None, _) => Err(self.err(CUT)),
            (Some(c), Layout::Lines) if c != b'{' => Err(self.err(format_args!(
                "record {}: expected a JSON object, found {}",
                self.index + 1,
                describe(c)
            ))),
            (Some(c @ (b']' | b',')), Layout::Array) => Err(self.err(format_args!(
                "expected an array element, found {}",
                describe(c)
            ))),
            (Some(_), _) => Ok(true),
        }
    }

    /// Read more for an element that the buffer cuts off. Scanning it
    /// again is worth it once what is unread has doubled (so a long
    /// element is scanned a bounded number of times), or grown by a quarter
    /// when the source pauses (so an element that is complete does not
    /// wait for the next one to arrive).
    fn more(&mut self) -> Result<()> {
        let unread = self.end - self.pos;
        self.fill(unread + unread / 4 + 1, (2 * unread).max(CHUNK))
    }

    /// The element is at `self.pos..end`: count its lines, step past it.
    fn consume(&mut self, end: usize) {
        let text = &self.buf[self.pos..end];
        let newlines = text.iter().filter(|&&b| b == b'\n').count();
        if newlines > 0 {
            self.line += newlines;
            let last = text.iter().rposition(|&b| b == b'\n').unwrap_or(0);
            self.line_start = self.consumed + (self.pos + last) as u64 + 1;
        }
        self.pos = end;
        self.index += 1;
    }

    /// Scan the next element with the one scanner: checked, written to
    /// `out` in `form`, its places recorded on `tape`. Returns where it
    /// started and where it lies in the buffer.
    fn scan(
        &mut self,
        form: Form,
        out: &mut Vec<u8>,
        mut tape: Option<&mut Tape>,
    ) -> Result<Option<(Pos, std::ops::Range<usize>)>> {
        if !self.seek_element()? {
            return Ok(None);
        }
        let at = self.here();
        let mark = out.len();
        loop {
            let src = &self.buf[self.pos..self.end];
            let p = raw::scan_prefix(src, form, out, tape.as_deref_mut());
            if p.ended && !self.eof {
                // cut off by the end of the buffer: read on and scan again
                out.truncate(mark);
                self.more()?;
                continue;
            }
            match p.result {
                Ok(n) => {
                    let start = self.pos;
                    self.consume(start + n);
                    return Ok(Some((at, start..start + n)));
                }
                Err(f) => return Err(self.invalid(at, &f)),
            }
        }
    }

    /// The error for an element the scanner refused: serde_json's own
    /// diagnosis of the text when it has one (it names a mismatched bracket
    /// or an unexpected end precisely), else the scanner's.
    fn invalid(&self, at: Pos, f: &Fault) -> Error {
        let text = &self.buf[self.pos..self.end];
        let mut de = serde_json::Deserializer::from_slice(text);
        match serde::de::IgnoredAny::deserialize(&mut de) {
            Err(e) => self.placer.serde_error(at, &e),
            Ok(_) => self.placer.invalid(at, f.line, f.column, f.msg),
        }
    }

    /// The next element's text, checked, with where it started, recording
    /// on `tape` where the element's parts lie in its text.
    pub fn next_places(&mut self, tape: Option<&mut Tape>) -> Result<Option<(Pos, &[u8])>> {
        Ok(self
            .scan(Form::Check, &mut Vec::new(), tape)?
            .map(|(at, r)| (at, &self.buf[r])))
    }

    /// The next element, checked and appended to `out` in `form` (`jq -c`,
    /// `jq .`, or verbatim without whitespace; numbers exactly as written,
    /// no value tree built), the places of its parts in `out` recorded on
    /// `tape`. Returns where the element started.
    pub fn next_emit(
        &mut self,
        form: Form,
        out: &mut Vec<u8>,
        tape: Option<&mut Tape>,
    ) -> Result<Option<Pos>> {
        Ok(self.scan(form, out, tape)?.map(|(at, _)| at))
    }

    /// The next record as a pass-through stage copies it: its checked text
    /// and, in JSON Lines, the line it was read from. A JSON Lines record
    /// must be alone on its line (whitespace around it allowed).
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>> {
        self.keep_line = true;
        let Some((at, r)) = self.scan(Form::Check, &mut Vec::new(), None)? else {
            return Ok(None);
        };
        let abs = |i: usize| self.consumed + i as u64;
        let (start, end) = (abs(r.start), abs(r.end));
        let mut line = None;
        if self.placer.layout == Layout::Lines {
            // the record's line start (a record over several lines has none)
            line = (at.line == self.line).then_some(self.line_start.max(self.body_start));
            self.hold = Some(start);
            let rest = self.rest_of_line(at);
            self.hold = None;
            rest?;
        }
        let at_buf = |a: u64| (a - self.consumed) as usize;
        Ok(Some(Record {
            at,
            json: &self.buf[at_buf(start)..at_buf(end)],
            line: line.map(|from| &self.buf[at_buf(from)..self.pos]),
            placer: &self.placer,
        }))
    }

    /// After a JSON Lines record: whitespace to the end of its line, which
    /// is consumed with it.
    fn rest_of_line(&mut self, at: Pos) -> Result<()> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        self.line_start = self.consumed + self.pos as u64;
                        return Ok(());
                    }
                    c => {
                        return Err(Error::input(format!(
                        "{}: {} after the end of the object (JSON Lines holds one object per line)",
                        self.place(at),
                        describe(c)
                    )))
                    }
                }
            }
            if self.eof {
                return Ok(());
            }
            self.fill(1, 1)?;
        }
    }
}

impl<R: Read> JsonStream<R> {
    /// The next element, parsed.
    pub fn next_value(&mut self) -> Result<Option<(Pos, Value)>> {
        self.next_as::<Value>()
    }

    /// The next element, parsed into any deserializable type (for example
    /// [`serde::de::IgnoredAny`] to check it without building a tree).
    /// serde_json finds the element's end as it parses.
    pub fn next_as<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<(Pos, T)>> {
        if !self.seek_element()? {
            return Ok(None);
        }
        let at = self.here();
        loop {
            let text = &self.buf[self.pos..self.end];
            let mut it = serde_json::Deserializer::from_slice(text).into_iter::<T>();
            let r = it.next();
            let n = it.byte_offset();
            let whole = n < text.len() || self.eof;
            match r {
                Some(Ok(v)) if whole => {
                    self.consume(self.pos + n);
                    return Ok(Some((at, v)));
                }
                Some(Err(e)) if !e.is_eof() || self.eof => {
                    return Err(self.placer.serde_error(at, &e))
                }
                // cut off by the end of the buffer (or a number that may go on)
                _ if !self.eof => self.more()?,
                _ => return Err(self.err("unexpected end of input (truncated JSON?)")),
            }
        }
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
        crate::value::write_compact(&mut out, v).unwrap();
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

    /// A reader that hands out at most `n` bytes a call, so that values
    /// straddle reads everywhere.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn emitted(input: &[u8], step: usize, form: Form) -> Result<String> {
        let mut s = JsonStream::new("t", Trickle(input, step));
        let mut out = Vec::new();
        while s.next_emit(form, &mut out, None)?.is_some() {
            out.push(b'\n');
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn values_cut_by_reads_are_read_whole() {
        let doc = b"[12345, -1.5e-7, true, null, \"a\\u00e9\", {\"k\": [1E2, 0.10]}, 123456789012345678901234567890]";
        let want = "12345\n-1.5e-7\ntrue\nnull\n\"a\u{e9}\"\n{\"k\":[1E2,0.10]}\n123456789012345678901234567890\n";
        for step in [1, 2, 3, 5, 7, 64, 1 << 20] {
            assert_eq!(
                emitted(doc, step, Form::Compact).unwrap(),
                want,
                "step {step}"
            );
            let mut s = JsonStream::new("t", Trickle(doc, step));
            let mut n = 0;
            while let Some((_, v)) = s.next_value().unwrap() {
                assert_eq!(
                    v,
                    serde_json::from_str::<Value>(want.lines().nth(n).unwrap()).unwrap()
                );
                n += 1;
            }
            assert_eq!(n, 7, "step {step}");
        }
        let lines = b"{\"a\":1}\n\n {\"b\":\n[2]}{\"c\":3}";
        for step in [1, 4, 1 << 20] {
            assert_eq!(
                emitted(lines, step, Form::Verbatim).unwrap(),
                "{\"a\":1}\n{\"b\":[2]}\n{\"c\":3}\n"
            );
            let e = emitted(b"[1, 2", step, Form::Compact).unwrap_err().msg;
            assert!(e.contains("truncated"), "{e}");
            let e = emitted(b"[1, tr", step, Form::Compact).unwrap_err().msg;
            assert!(
                e.contains("line 1, column 6: invalid JSON in array element 1: EOF"),
                "{e}"
            );
            let e = emitted(b"[1, tru]", step, Form::Compact).unwrap_err().msg;
            assert!(
                e.contains("line 1, column 8: invalid JSON in array element 1: expected ident"),
                "{e}"
            );
        }
    }

    #[test]
    fn elements_are_checked_where_they_lie() {
        let err = |doc: &str| {
            emitted(doc.as_bytes(), 1 << 20, Form::Check)
                .unwrap_err()
                .msg
        };
        // serde_json's diagnosis when it has one, the scanner's otherwise
        assert_eq!(
            err("[1e400, {\"a\": x}]"),
            "t: line 1, column 15: invalid JSON in array element 1: expected value"
        );
        assert_eq!(
            err("{\"a\":1}\n{\"s\":\"\\ud800\"}"),
            "t: line 2, column 13: invalid JSON in record 2: lone leading surrogate in hex escape"
        );
        assert_eq!(
            err("[{\"a\":1,}]"),
            "t: line 1, column 9: invalid JSON in array element 0: key must be a string"
        );
        // numbers beyond f64 are valid JSON
        assert_eq!(emitted(b"[1e400]", 3, Form::Compact).unwrap(), "1e400\n");
    }

    #[test]
    fn the_tape_names_an_elements_parts() {
        let mut s = JsonStream::new("t", Trickle(b"[{\"a\" : [1, 2], \"b\":\"x\"}, {}]", 3));
        let mut tape = Tape::new(2);
        let (_, text) = s.next_places(Some(&mut tape)).unwrap().unwrap();
        let root = tape.root(text);
        let a: Vec<&[u8]> = root.get("a").unwrap().parts().map(|n| n.json()).collect();
        assert_eq!(a, [b"1", b"2"]);
        assert_eq!(root.get("b").unwrap().as_str().unwrap(), "x");
        let (_, text) = s.next_places(Some(&mut tape)).unwrap().unwrap();
        assert_eq!(tape.root(text).parts().count(), 0);
        assert!(s.next_places(Some(&mut tape)).unwrap().is_none());
    }

    fn records(input: &[u8], step: usize) -> Result<Vec<u8>> {
        let mut s = JsonStream::new("t", Trickle(input, step));
        let mut out = Vec::new();
        while let Some(r) = s.next_record()? {
            assert!(r.place().starts_with(&format!("t: line {}: ", r.at.line)));
            r.write_to(&mut out);
        }
        Ok(out)
    }

    /// Reads handed out in pieces, the last of them only once the test
    /// has been given the first element (a pipe whose writer waits).
    struct Pieces<'a>(Vec<&'a [u8]>, std::rc::Rc<std::cell::Cell<bool>>);

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.len() == 1 {
                assert!(self.1.get(), "read on before the element read was given");
            }
            let Some(p) = self.0.first_mut() else {
                return Ok(0);
            };
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            *p = &p[n..];
            if p.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    /// An element complete in what was read comes out without waiting for
    /// more input.
    #[test]
    fn an_element_does_not_wait_for_the_next() {
        let first = format!("[{{\"s\":\"{}\"}}", "x".repeat(100_000));
        let given = std::rc::Rc::new(std::cell::Cell::new(false));
        let (a, b) = first.as_bytes().split_at(CHUNK);
        let pieces = Pieces(vec![a, b, b", {}]"], given.clone());
        let mut s = JsonStream::new("t", pieces);
        let v = s.next_record().unwrap().unwrap().json;
        assert_eq!(v.len(), first.len() - 1);
        given.set(true);
        assert_eq!(s.next_record().unwrap().unwrap().json, b"{}");
        assert!(s.next_record().unwrap().is_none());
    }

    /// A one-line array read record by record is not held whole.
    #[test]
    fn records_of_a_long_array_line_are_not_all_kept() {
        let el = format!("{{\"s\":\"{}\"}}", "x".repeat(1000));
        let doc = format!("[{}]", vec![el.as_str(); 2000].join(","));
        let mut s = JsonStream::new("t", doc.as_bytes());
        let mut n = 0;
        while let Some(r) = s.next_record().unwrap() {
            assert_eq!(r.json, el.as_bytes());
            n += 1;
        }
        assert_eq!(n, 2000);
        assert!(s.buf.len() < 4 * CHUNK, "{}", s.buf.len());
    }

    /// JSON Lines records are copied as read, line ending and surrounding
    /// blanks included; anything else becomes one compact line.
    #[test]
    fn records_keep_their_lines() {
        let lines: &[u8] = b"\xEF\xBB\xBF\n {\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}\r\n\t{\"c\":1.50}";
        for step in [1, 2, 7, 1 << 20] {
            assert_eq!(
                records(lines, step).unwrap(),
                b" {\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}\r\n\t{\"c\":1.50}\n",
                "step {step}"
            );
            // over two lines: one compact line
            assert_eq!(
                records(b"{\"c\":\n [1]}\n", step).unwrap(),
                b"{\"c\":[1]}\n"
            );
            // a byte-order mark is not part of the first line
            assert_eq!(
                records(b"\xEF\xBB\xBF{\"a\":1}  ", step).unwrap(),
                b"{\"a\":1}  \n"
            );
            // an array: one compact line per element, strings as written
            assert_eq!(
                records(b"\n[ {\"a\": 1.0, \"s\": \"\\u00e9\"} ]", step).unwrap(),
                b"{\"a\":1.0,\"s\":\"\\u00e9\"}\n"
            );
            let e = records(b"{\"a\":1}\n\n{\"b\":", step).unwrap_err().msg;
            assert!(
                e.contains("t: line 3, column 5: invalid JSON in record 2: EOF"),
                "{e}"
            );
            let e = records(b"{\"a\":1} {\"b\":2}\n", step).unwrap_err().msg;
            assert!(
                e.contains("t: line 1: record 1: '{' after the end of the object"),
                "{e}"
            );
            let e = records(b"{\"a\":1}\n7\n", step).unwrap_err().msg;
            assert!(
                e.contains("line 2: record 2: expected a JSON object"),
                "{e}"
            );
        }
    }
}
