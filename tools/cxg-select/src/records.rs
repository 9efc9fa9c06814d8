//! The records of the input, each with the text to write when it is
//! selected: a JSON Lines line exactly as read (surrounding spaces, tabs
//! and a CRLF's `\r` included; `\n` added only where the last line lacks
//! one), or one compact line for an element of a JSON array or a record
//! spread over several lines.

use cxg_core::{At, Error, Result};
use cxg_json::stream::{minify, JsonStream, Pos};
use std::io::{BufRead, BufReader, Cursor, Read, Write};

type Reader = Box<dyn Read + Send>;

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// JSON Lines, read line by line.
struct Lines {
    name: String,
    r: BufReader<Reader>,
    /// The record as read: its line (or lines), line ending included.
    buf: Vec<u8>,
    /// The first line, read while detecting the layout.
    pending: Option<Vec<u8>>,
    /// Where the object lies in `buf`.
    start: usize,
    end: usize,
    /// Lines read so far; the line the record starts on; its number.
    line: usize,
    at_line: usize,
    index: usize,
    /// The record spans more than one line.
    multi: bool,
}

enum Src {
    Lines(Box<Lines>),
    Array {
        s: Box<JsonStream<Reader>>,
        rec: Vec<u8>,
        at: Pos,
    },
}

pub struct Records {
    src: Src,
    scratch: Vec<u8>,
}

impl Records {
    /// JSON Lines when the first non-blank line starts with `{`; anything
    /// else (an array, or input that is neither) goes to the JSON stream,
    /// which reads arrays and names what it cannot read.
    pub fn open(name: String, reader: Reader) -> Result<Records> {
        let mut r = BufReader::with_capacity(1 << 16, reader);
        let mut pre: Vec<u8> = Vec::new();
        let mut lines = 0;
        loop {
            let start = pre.len();
            let n = r
                .read_until(b'\n', &mut pre)
                .at(format_args!("cannot read {name}"))?;
            if n == 0 {
                break;
            }
            let from = if start == 0 && pre.starts_with(BOM) {
                3
            } else {
                start
            };
            match pre[from..].iter().find(|&&b| !is_ws(b)) {
                None => lines += 1,
                Some(b'{') => {
                    let first = pre[from..].to_vec();
                    return Ok(Records {
                        src: Src::Lines(Box::new(Lines {
                            name,
                            r,
                            buf: Vec::new(),
                            pending: Some(first),
                            start: 0,
                            end: 0,
                            line: lines,
                            at_line: 0,
                            index: 0,
                            multi: false,
                        })),
                        scratch: Vec::new(),
                    });
                }
                Some(_) => break,
            }
        }
        let chained: Reader = Box::new(Cursor::new(pre).chain(r));
        Ok(Records {
            src: Src::Array {
                s: Box::new(JsonStream::new(name, chained)),
                rec: Vec::new(),
                at: Pos {
                    index: 0,
                    line: 0,
                    column: 0,
                },
            },
            scratch: Vec::new(),
        })
    }

    /// Read the next record; false at the end of the input.
    pub fn next(&mut self) -> Result<bool> {
        match &mut self.src {
            Src::Lines(l) => l.next(),
            Src::Array { s, rec, at } => match s.next_raw()? {
                None => Ok(false),
                Some((p, bytes)) => {
                    rec.clear();
                    rec.extend_from_slice(bytes);
                    *at = p;
                    Ok(true)
                }
            },
        }
    }

    /// The record's JSON text.
    pub fn json(&self) -> &[u8] {
        match &self.src {
            Src::Lines(l) => &l.buf[l.start..l.end],
            Src::Array { rec, .. } => rec,
        }
    }

    /// How messages name the record: `NAME: line L: record N`.
    pub fn place(&self) -> String {
        match &self.src {
            Src::Lines(l) => format!("{}: line {}: record {}", l.name, l.at_line, l.index),
            Src::Array { s, at, .. } => s.place(*at),
        }
    }

    /// Write the record: its line as read, or one compact line.
    pub fn write_to(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match &self.src {
            Src::Lines(l) if !l.multi => {
                out.write_all(&l.buf)?;
                if !l.buf.ends_with(b"\n") {
                    out.write_all(b"\n")?;
                }
                Ok(())
            }
            _ => {
                self.scratch.clear();
                let json = match &self.src {
                    Src::Lines(l) => &l.buf[l.start..l.end],
                    Src::Array { rec, .. } => &rec[..],
                };
                minify(json, &mut self.scratch);
                self.scratch.push(b'\n');
                out.write_all(&self.scratch)
            }
        }
    }
}

/// Where a scan of an object stands: its depth, and inside a string
/// (after a backslash).
#[derive(Default)]
struct Scan {
    depth: usize,
    in_str: bool,
    esc: bool,
}

impl Scan {
    /// Scan `buf` from `*i`: the end of the object (just past its closing
    /// brace) when it is in `buf`; else `None`, with `*i` at the end.
    fn run(&mut self, buf: &[u8], i: &mut usize) -> Option<usize> {
        while *i < buf.len() {
            if self.in_str {
                if self.esc {
                    self.esc = false;
                    *i += 1;
                    continue;
                }
                // the string's plain run in one step (the hot path)
                match buf[*i..].iter().position(|&b| b == b'"' || b == b'\\') {
                    None => *i = buf.len(),
                    Some(k) => {
                        if buf[*i + k] == b'\\' {
                            self.esc = true;
                        } else {
                            self.in_str = false;
                        }
                        *i += k + 1;
                    }
                }
                continue;
            }
            let c = buf[*i];
            *i += 1;
            match c {
                b'"' => self.in_str = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(*i);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

impl Lines {
    fn read_line(&mut self) -> Result<usize> {
        if let Some(p) = self.pending.take() {
            self.buf.extend_from_slice(&p);
            return Ok(p.len());
        }
        let n = self
            .r
            .read_until(b'\n', &mut self.buf)
            .at(format_args!("cannot read {}", self.name))?;
        if n > 0 {
            self.line += 1;
        }
        Ok(n)
    }

    /// `NAME: line L: record N`, at the line read last.
    fn place(&self) -> String {
        format!("{}: line {}: record {}", self.name, self.line, self.index)
    }

    fn next(&mut self) -> Result<bool> {
        self.multi = false;
        let Some(first) = self.first_line()? else {
            return Ok(false);
        };
        self.at_line = self.line;
        self.index += 1;
        if self.buf[first] != b'{' {
            return Err(Error::input(format!(
                "{}: expected a JSON object, found {}",
                self.place(),
                describe(self.buf[first])
            )));
        }
        self.start = first;
        self.end = self.object_end(first)?;
        if let Some(c) = self.buf[self.end..].iter().find(|&&b| !is_ws(b)) {
            return Err(Error::input(format!(
                "{}: {} after the end of the object (JSON Lines holds one object per line)",
                self.place(),
                describe(*c)
            )));
        }
        Ok(true)
    }

    /// Read the next line that is not blank into `buf`: where its text
    /// starts, or `None` at the end of the input.
    fn first_line(&mut self) -> Result<Option<usize>> {
        loop {
            self.buf.clear();
            let pending = self.pending.is_some();
            if self.read_line()? == 0 {
                return Ok(None);
            }
            if pending {
                self.line += 1;
            }
            if let Some(i) = self.buf.iter().position(|&b| !is_ws(b)) {
                return Ok(Some(i));
            }
        }
    }

    /// The end of the object that starts at `first`, reading more lines
    /// while it is open.
    fn object_end(&mut self, first: usize) -> Result<usize> {
        let mut scan = Scan::default();
        let mut i = first;
        loop {
            if let Some(end) = scan.run(&self.buf, &mut i) {
                return Ok(end);
            }
            if self.read_line()? == 0 {
                return Err(Error::input(format!(
                    "{}: unexpected end of input (truncated JSON?)",
                    self.place()
                )));
            }
            self.multi = true;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<Vec<u8>> {
        let mut r = Records::open("t".into(), Box::new(Cursor::new(input.to_vec())))?;
        let mut out = Vec::new();
        while r.next()? {
            r.write_to(&mut out).unwrap();
        }
        Ok(out)
    }

    #[test]
    fn lines_as_read_strings_with_brackets_and_escapes() {
        let lines: &[u8] = b"\xEF\xBB\xBF\n {\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}\r\n\t{\"c\":1}";
        assert_eq!(
            all(lines).unwrap(),
            b" {\"a\":\"x\\\"}{[\",\"b\":\"\\\\\"}\r\n\t{\"c\":1}\n"
        );
        // over two lines: one compact line
        assert_eq!(all(b"{\"c\":\n [1]}\n").unwrap(), b"{\"c\":[1]}\n");
        // arrays go to the stream
        assert_eq!(all(b"\n[ {\"a\": 1} ]").unwrap(), b"{\"a\":1}\n");
        let e = all(b"{\"a\":1}\n\n{\"b\":").unwrap_err().to_string();
        assert!(e.contains("t: line 3: record 2: unexpected end"), "{e}");
        let e = all(b"{\"a\":1} {\"b\":2}\n").unwrap_err().to_string();
        assert!(e.contains("line 1: record 1: '{' after the end"), "{e}");
        let e = all(b"{\"a\":1}\n7\n").unwrap_err().to_string();
        assert!(
            e.contains("line 2: record 2: expected a JSON object"),
            "{e}"
        );
    }
}
