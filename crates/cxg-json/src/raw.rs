//! The one JSON scanner: it checks a value byte by byte and, in the same
//! pass, writes it out in the form asked for and records where its parts
//! lie, without building a value tree.
//!
//! Forms: [`Form::Check`] writes nothing (a pass-through stage copies the
//! input bytes it was given); [`Form::Compact`] is what `jq -c` prints and
//! [`Form::Pretty`] what `jq .` prints; [`Form::Verbatim`] drops the
//! whitespace between tokens and keeps every string as written. Every
//! number is copied exactly as written (`1263392533.1979759`,
//! `123456789012345678901234567890`, `1E2`, `-0` and `1e400` stay as they
//! are, as jq 1.7 keeps number literals). In the jq forms a string without
//! escapes is copied as written; one with escapes (or a DEL byte) is decoded
//! and written again with jq's escapes, so the bytes match `jq -c`.
//! Duplicate keys are kept as written.
//!
//! A [`Tape`] records the places of a value's members and elements down to
//! a depth, in the coordinates of the text written (of the input for
//! `Check`): [`Node`]s read them without scanning again.

use std::borrow::Cow;

/// Why a value is not valid JSON, and where in the value's text: a byte
/// offset, and the 1-based line and column. The messages are serde_json's
/// words for the same faults, and it reads as serde_json's errors do:
/// `MSG at line L column C`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub msg: &'static str,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.msg, self.line, self.column
        )
    }
}

impl std::error::Error for Fault {}

/// What the scanner writes while it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Nothing: only check (and record places in the input).
    Check,
    /// As `jq -c` prints it.
    Compact,
    /// As `jq .` prints it (two-space indent).
    Pretty,
    /// Whitespace between tokens removed, strings and numbers as written.
    Verbatim,
}

/// Nesting deeper than this is refused (as serde_json refuses beyond 128).
const MAX_DEPTH: usize = 512;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Write `text` as a JSON string with jq's escapes: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t`, other control characters and DEL as `\u00XX`.
fn write_str(out: &mut Vec<u8>, text: &[u8]) {
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

/// Where the scanner's output goes: one implementation per [`Form`], so
/// that each form compiles to its own tight loop.
trait Sink {
    /// The offset that text at input offset `input` has in the output
    /// (places are recorded in these coordinates).
    fn pos(&self, input: usize) -> usize;
    /// Bytes copied as written (numbers, literals, plain strings).
    fn raw(&mut self, b: &[u8]);
    /// Punctuation.
    fn byte(&mut self, b: u8);
    /// The break before an element or closing bracket at `depth` (pretty only).
    fn newline(&mut self, depth: usize);
    /// Between a key and its value.
    fn colon(&mut self);
    /// A string with escapes or DEL: as `written` (quotes included), and
    /// its `decoded` text.
    fn reescape(&mut self, written: &[u8], decoded: &[u8]);
}

struct Check;

impl Sink for Check {
    fn pos(&self, input: usize) -> usize {
        input
    }
    fn raw(&mut self, _: &[u8]) {}
    fn byte(&mut self, _: u8) {}
    fn newline(&mut self, _: usize) {}
    fn colon(&mut self) {}
    fn reescape(&mut self, _: &[u8], _: &[u8]) {}
}

struct Compact<'o>(&'o mut Vec<u8>);

impl Sink for Compact<'_> {
    fn pos(&self, _: usize) -> usize {
        self.0.len()
    }
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn newline(&mut self, _: usize) {}
    fn colon(&mut self) {
        self.0.push(b':');
    }
    fn reescape(&mut self, _: &[u8], decoded: &[u8]) {
        write_str(self.0, decoded);
    }
}

struct Pretty<'o>(&'o mut Vec<u8>);

impl Sink for Pretty<'_> {
    fn pos(&self, _: usize) -> usize {
        self.0.len()
    }
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn newline(&mut self, depth: usize) {
        self.0.push(b'\n');
        for _ in 0..depth {
            self.0.extend_from_slice(b"  ");
        }
    }
    fn colon(&mut self) {
        self.0.extend_from_slice(b": ");
    }
    fn reescape(&mut self, _: &[u8], decoded: &[u8]) {
        write_str(self.0, decoded);
    }
}

struct Verbatim<'o>(&'o mut Vec<u8>);

impl Sink for Verbatim<'_> {
    fn pos(&self, _: usize) -> usize {
        self.0.len()
    }
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn newline(&mut self, _: usize) {}
    fn colon(&mut self) {
        self.0.push(b':');
    }
    fn reescape(&mut self, written: &[u8], _: &[u8]) {
        self.0.extend_from_slice(written);
    }
}

/// The places of a value's parts, recorded by the scanner: the value, then
/// each member or element down to the depth asked for, in document order.
/// Read it with [`Tape::root`].
#[derive(Debug, Clone, Default)]
pub struct Tape {
    items: Vec<Item>,
    /// Levels below the value whose parts were recorded.
    depth: usize,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    /// The key with its quotes (an empty range for elements and the value).
    key: (u32, u32),
    value: (u32, u32),
    /// The index after this item's recorded parts.
    next: u32,
    /// Its parts were recorded.
    deep: bool,
}

fn span(r: (u32, u32)) -> std::ops::Range<usize> {
    r.0 as usize..r.1 as usize
}

impl Tape {
    /// Record the parts of values down to `depth` levels (0: the value only).
    pub fn new(depth: usize) -> Tape {
        Tape {
            items: Vec::new(),
            depth,
        }
    }

    /// The value recorded, read in `text` (the text the places are in: the
    /// output written, or the input for [`Form::Check`]). Before any scan
    /// (or after a failed one) it is all of `text`, with no parts.
    pub fn root<'a>(&'a self, text: &'a [u8]) -> Node<'a> {
        Node {
            text,
            items: &self.items,
            k: 0,
        }
    }
}

/// One recorded value: its text, its key when it is a member, and its
/// recorded members or elements.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    text: &'a [u8],
    items: &'a [Item],
    k: usize,
}

const NONE: Item = Item {
    key: (0, 0),
    value: (0, u32::MAX),
    next: 0,
    deep: false,
};

impl<'a> Node<'a> {
    fn item(self) -> Item {
        self.items.get(self.k).copied().unwrap_or(NONE)
    }

    /// The value's text.
    pub fn json(self) -> &'a [u8] {
        let (a, b) = self.item().value;
        &self.text[a as usize..(b as usize).min(self.text.len())]
    }

    /// The member's key with its quotes, as written (empty for an element).
    pub fn key_json(self) -> &'a [u8] {
        &self.text[span(self.item().key)]
    }

    /// True when the member's key is `name` (a plain key, without escapes).
    pub fn is(self, name: &str) -> bool {
        self.member().is(name)
    }

    /// The member as a key and value pair of texts.
    pub fn member(self) -> Member<'a> {
        Member {
            key_json: self.key_json(),
            value: self.json(),
        }
    }

    /// jq's name for the value's type.
    pub fn kind(self) -> &'static str {
        kind(self.json())
    }

    /// The text of a string value.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        as_str(self.json())
    }

    /// The members of an object or elements of an array, when the tape
    /// recorded this level (empty for anything else).
    pub fn parts(self) -> impl Iterator<Item = Node<'a>> {
        let it = self.item();
        let end = it.next as usize;
        let mut k = if it.deep { self.k + 1 } else { end };
        std::iter::from_fn(move || {
            (k < end).then(|| {
                let n = Node { k, ..self };
                k = self.items[k].next as usize;
                n
            })
        })
    }

    /// The member named `name` (the last one, as jq reads a repeated key).
    pub fn get(self, name: &str) -> Option<Node<'a>> {
        self.parts().filter(|n| n.is(name)).last()
    }
}

struct Parser<'a, 't, S> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    out: S,
    /// The scan looked past the last byte: a value cut off by the end of a
    /// buffer may continue in the next read.
    ended: bool,
    tape: Option<&'t mut Tape>,
}

impl<'a, 't, S: Sink> Parser<'a, 't, S> {
    fn new(s: &'a [u8], out: S, tape: Option<&'t mut Tape>) -> Self {
        Parser {
            s,
            i: 0,
            depth: 0,
            out,
            ended: false,
            tape,
        }
    }

    fn fault(&self, msg: &'static str) -> Fault {
        let (line, column) = line_col(self.s, self.i);
        Fault {
            offset: self.i,
            line,
            column,
            msg,
        }
    }

    /// The byte at `i`, noting a look past the end.
    fn at(&mut self, i: usize) -> Option<u8> {
        let b = self.s.get(i).copied();
        self.ended |= b.is_none();
        b
    }

    fn peek(&mut self) -> Option<u8> {
        self.at(self.i)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// One value (leading whitespace allowed), recorded on the tape when
    /// its level is recorded; `key` is its member key's place.
    fn value(&mut self, key: (u32, u32)) -> Result<(), Fault> {
        self.ws();
        let level = self.depth;
        let slot = match &mut self.tape {
            Some(t) if level <= t.depth => {
                t.items.push(Item {
                    key,
                    value: (0, 0),
                    next: 0,
                    deep: level < t.depth,
                });
                Some(t.items.len() - 1)
            }
            _ => None,
        };
        let start = self.out.pos(self.i) as u32;
        match self.peek() {
            None => Err(self.fault("EOF while parsing a value")),
            Some(b'{') => self.container(b'}'),
            Some(b'[') => self.container(b']'),
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fault("expected value")),
        }?;
        if let (Some(k), Some(t)) = (slot, &mut self.tape) {
            let end = self.out.pos(self.i) as u32;
            let next = t.items.len() as u32;
            t.items[k].value = (start, end);
            t.items[k].next = next;
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Fault> {
        let have = &self.s[self.i..];
        if have.starts_with(word) {
            self.i += word.len();
            self.out.raw(word);
            Ok(())
        } else {
            self.ended |= word.starts_with(have);
            Err(self.fault("expected value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), Fault> {
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
        self.out.raw(&self.s[start..self.i]);
        Ok(())
    }

    /// A string; returns its decoded text when it had escapes or DEL
    /// (`None`: the text is the bytes between the quotes, as written).
    fn string(&mut self) -> Result<Option<Vec<u8>>, Fault> {
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
            self.out.raw(&s[start..=j]);
            self.i = j + 1;
            return Ok(None);
        }
        let mut text = s[start + 1..j.min(s.len())].to_vec();
        self.i = j;
        self.rest_of_string(&mut text)?;
        if let Err(e) = std::str::from_utf8(&text) {
            self.i = start + 1 + e.valid_up_to().min(j - start - 1);
            return Err(self.fault("invalid unicode code point"));
        }
        self.out.reescape(&s[start..self.i], &text);
        Ok(Some(text))
    }

    /// The string from its first escape, control character or DEL to its
    /// closing quote, decoded into `text`.
    fn rest_of_string(&mut self, text: &mut Vec<u8>) -> Result<(), Fault> {
        loop {
            let Some(b) = self.peek() else {
                return Err(self.fault("EOF while parsing a string"));
            };
            match b {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.i += 1;
                    self.escape(text)?;
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
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            self.ended = true;
            return Err(self.fault("EOF while parsing a string"));
        };
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

    /// The code point of a `\u` escape (after the `u`), a surrogate pair
    /// taken whole.
    fn unicode(&mut self) -> Result<char, Fault> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.peek() != Some(b'\\') || self.at(self.i + 1) != Some(b'u') {
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
        char::from_u32(code).ok_or_else(|| self.fault("invalid escape"))
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
            b'u' => self.unicode()?,
            _ => {
                self.i -= 1;
                return Err(self.fault("invalid escape"));
            }
        };
        let mut b = [0u8; 4];
        text.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
        Ok(())
    }

    /// After whitespace, the next byte must be `want`.
    fn expect(&mut self, want: u8, eof: &'static str, other: &'static str) -> Result<(), Fault> {
        self.ws();
        match self.peek() {
            Some(c) if c == want => {
                self.i += 1;
                Ok(())
            }
            None => Err(self.fault(eof)),
            Some(_) => Err(self.fault(other)),
        }
    }

    /// A member's key and colon; returns the key's place.
    fn key(&mut self) -> Result<(u32, u32), Fault> {
        self.ws();
        match self.peek() {
            Some(b'"') => {}
            None => return Err(self.fault("EOF while parsing an object")),
            Some(_) => return Err(self.fault("key must be a string")),
        }
        let start = self.out.pos(self.i) as u32;
        self.string()?;
        let end = self.out.pos(self.i) as u32;
        self.expect(b':', "EOF while parsing an object", "expected `:`")?;
        self.out.colon();
        Ok((start, end))
    }

    fn container(&mut self, close: u8) -> Result<(), Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fault("recursion limit exceeded"));
        }
        self.out.byte(self.s[self.i]);
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            self.out.byte(close);
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.out.newline(self.depth);
            let key = if close == b'}' { self.key()? } else { (0, 0) };
            self.value(key)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.out.byte(b',');
                }
                Some(c) if c == close => {
                    self.i += 1;
                    break;
                }
                None => return Err(self.fault("EOF while parsing a list or object")),
                Some(_) if close == b'}' => return Err(self.fault("expected `,` or `}`")),
                Some(_) => return Err(self.fault("expected `,` or `]`")),
            }
        }
        self.depth -= 1;
        self.out.newline(self.depth);
        self.out.byte(close);
        Ok(())
    }

    /// One value, then only whitespace to the end of the text.
    fn document(&mut self) -> Result<(), Fault> {
        self.value((0, 0))?;
        self.ws();
        if self.i < self.s.len() {
            return Err(self.fault("trailing characters"));
        }
        Ok(())
    }
}

/// How a scan of a value at the start of a buffer ended: where the value
/// ends, or the fault; and whether the scan looked past the last byte
/// (then more input may complete or continue the value).
pub(crate) struct Prefix {
    pub result: Result<usize, Fault>,
    pub ended: bool,
}

/// Run `Parser` with the sink of `form`, writing to `out`.
fn with_sink<R>(
    form: Form,
    src: &[u8],
    out: &mut Vec<u8>,
    tape: Option<&mut Tape>,
    f: impl FnOnce(&mut dyn Scan) -> R,
) -> R {
    match form {
        Form::Check => f(&mut Parser::new(src, Check, tape)),
        Form::Compact => f(&mut Parser::new(src, Compact(out), tape)),
        Form::Pretty => f(&mut Parser::new(src, Pretty(out), tape)),
        Form::Verbatim => f(&mut Parser::new(src, Verbatim(out), tape)),
    }
}

/// The scanner's entry points, whatever its sink.
trait Scan {
    fn document(&mut self) -> Result<(), Fault>;
    fn value(&mut self) -> Result<(), Fault>;
    fn end(&self) -> (usize, bool);
}

impl<S: Sink> Scan for Parser<'_, '_, S> {
    fn document(&mut self) -> Result<(), Fault> {
        Parser::document(self)
    }
    fn value(&mut self) -> Result<(), Fault> {
        Parser::value(self, (0, 0))
    }
    fn end(&self) -> (usize, bool) {
        (self.i, self.ended)
    }
}

/// Check the one JSON value of `src` (whitespace around it allowed) and
/// append it to `out` in `form`, recording places on `tape` when given.
/// Nothing is appended (and nothing recorded) when the text is invalid.
pub fn scan(
    src: &[u8],
    form: Form,
    out: &mut Vec<u8>,
    mut tape: Option<&mut Tape>,
) -> Result<(), Fault> {
    let mark = out.len();
    if let Some(t) = tape.as_deref_mut() {
        t.items.clear();
    }
    let r = with_sink(form, src, out, tape.as_deref_mut(), |p| p.document());
    if r.is_err() {
        out.truncate(mark);
        if let Some(t) = tape {
            t.items.clear();
        }
    }
    r
}

/// [`scan`] of the value at the start of `src` (no leading whitespace), for
/// the stream: the text after the value is not looked at.
pub(crate) fn scan_prefix(
    src: &[u8],
    form: Form,
    out: &mut Vec<u8>,
    mut tape: Option<&mut Tape>,
) -> Prefix {
    let mark = out.len();
    if let Some(t) = tape.as_deref_mut() {
        t.items.clear();
    }
    let (result, ended) = with_sink(form, src, out, tape, |p| {
        let r = p.value();
        let (end, ended) = p.end();
        (r.map(|()| end), ended)
    });
    if result.is_err() {
        out.truncate(mark);
    }
    Prefix { result, ended }
}

/// Check the JSON value in `src` and append it to `out`, compact (as
/// `jq -c`) or indented (as `jq .`), numbers exactly as written.
pub fn emit(src: &[u8], pretty: bool, out: &mut Vec<u8>) -> Result<(), Fault> {
    let form = if pretty { Form::Pretty } else { Form::Compact };
    scan(src, form, out, None)
}

/// Check the JSON value in `src` and append it to `out` without the
/// whitespace between tokens, every string and number exactly as written.
pub(crate) fn minify(src: &[u8], out: &mut Vec<u8>) -> Result<(), Fault> {
    scan(src, Form::Verbatim, out, None)
}

/// 1-based line and column of byte `offset` in `src`.
fn line_col(src: &[u8], offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    (line, col + 1)
}

/// One member of an object: the key as written (quoted) and the value's
/// text, both borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key with its quotes.
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

/// jq's name for the type of the JSON text `v` (checked, without
/// surrounding whitespace).
fn kind(v: &[u8]) -> &'static str {
    match v.first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// The text of the checked JSON string `v`, or `None` when `v` is not a
/// string.
pub fn as_str(v: &[u8]) -> Option<Cow<'_, str>> {
    if v.first() != Some(&b'"') || v.len() < 2 {
        return None;
    }
    let inner = &v[1..v.len() - 1];
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    let mut p = Parser::new(v, Check, None);
    match p.string() {
        Ok(Some(t)) => String::from_utf8(t).ok().map(Cow::Owned),
        Ok(None) => std::str::from_utf8(inner).ok().map(Cow::Borrowed),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form(s: &str, f: Form) -> Result<String, Fault> {
        let mut out = Vec::new();
        scan(s.as_bytes(), f, &mut out, None)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn compact(s: &str) -> Result<String, Fault> {
        form(s, Form::Compact)
    }

    #[test]
    fn numbers_are_copied_as_written() {
        let doc =
            "[ 1263392533.1979759, 123456789012345678901234567890, 1E2, -0, 1e400, -1.5e-7, 0.10 ]";
        let want = "[1263392533.1979759,123456789012345678901234567890,1E2,-0,1e400,-1.5e-7,0.10]";
        for f in [Form::Compact, Form::Verbatim] {
            assert_eq!(form(doc, f).unwrap(), want);
        }
        for bad in ["01", "1.", ".5", "-", "1e", "+1", "1.e3", "NaN", "Infinity"] {
            assert!(compact(bad).is_err(), "{bad}");
            assert!(form(bad, Form::Check).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_are_written_as_jq_writes_them() {
        let doc = r#"{"s":"a\u007fb\n\u0001é\/ \ud83d\ude00 \"q\""}"#;
        assert_eq!(
            compact(doc).unwrap(),
            "{\"s\":\"a\\u007fb\\n\\u0001é/ 😀 \\\"q\\\"\"}"
        );
        // verbatim: as written
        assert_eq!(form(&format!(" {doc} "), Form::Verbatim).unwrap(), doc);
        assert_eq!(compact("\"a\u{7f}\"").unwrap(), "\"a\\u007f\"");
        assert_eq!(form("\"a\u{7f}\"", Form::Verbatim).unwrap(), "\"a\u{7f}\"");
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
            assert!(form(bad, Form::Check).is_err(), "{bad}");
        }
        let deep = "[".repeat(600) + &"]".repeat(600);
        assert!(compact(&deep).unwrap_err().msg.contains("recursion"));
        assert_eq!(
            form(r#"{"a": [1, {}], "b": [], "c": {"d": 1.50}}"#, Form::Pretty).unwrap(),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": [],\n  \"c\": {\n    \"d\": 1.50\n  }\n}"
        );
        assert_eq!(
            compact("{\"a\":1,}").unwrap_err().to_string(),
            "key must be a string at line 1 column 8"
        );
    }

    #[test]
    fn the_tape_records_places_in_the_text_written() {
        let src = br#" {"a\u0062" : [1, {"x":"]"}] , "n":1e400, "s":"x\"y,}", "e":{}} "#;
        let mut c = Vec::new();
        let mut tape = Tape::new(2);
        scan(src, Form::Compact, &mut c, Some(&mut tape)).unwrap();
        let root = tape.root(&c);
        assert_eq!(root.kind(), "object");
        let m: Vec<Node> = root.parts().collect();
        assert_eq!(m.len(), 4);
        assert!(m[0].is("ab"));
        assert_eq!(m[0].key_json(), b"\"ab\"");
        assert_eq!(m[0].json(), br#"[1,{"x":"]"}]"#);
        let e: Vec<&[u8]> = m[0].parts().map(Node::json).collect();
        assert_eq!(e, vec![&b"1"[..], &br#"{"x":"]"}"#[..]]);
        // the third level was not recorded
        assert_eq!(m[0].parts().nth(1).unwrap().parts().count(), 0);
        assert_eq!(m[1].json(), b"1e400");
        assert_eq!(root.get("s").unwrap().as_str().unwrap(), "x\"y,}");
        assert_eq!(m[3].json(), b"{}");
        assert_eq!(m[3].parts().count(), 0);
        let mut out = Vec::new();
        object(&[m[1].member(), m[0].member()], &mut out);
        assert_eq!(out, br#"{"n":1e400,"ab":[1,{"x":"]"}]}"#);
        // in the input, for Check: keys and values as written
        scan(src, Form::Check, &mut Vec::new(), Some(&mut tape)).unwrap();
        let root = tape.root(src);
        assert_eq!(root.json(), &src[1..src.len() - 1]);
        let m: Vec<Node> = root.parts().collect();
        assert_eq!(m[0].key_json(), br#""a\u0062""#);
        assert_eq!(m[0].json(), br#"[1, {"x":"]"}]"#);
        assert_eq!(m[2].as_str().unwrap(), "x\"y,}");
        // a fault leaves nothing recorded
        assert!(scan(
            b"{\"a\":[1,}",
            Form::Check,
            &mut Vec::new(),
            Some(&mut tape)
        )
        .is_err());
        assert_eq!(tape.root(src).json(), src);
        assert_eq!(tape.root(src).parts().count(), 0);
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
    }

    #[test]
    fn a_prefix_scan_says_when_it_needs_more() {
        let cases: [(&str, Option<usize>, bool); 8] = [
            ("{\"a\":1} x", Some(7), false),
            ("12 ", Some(2), false),
            ("12", Some(2), true),
            ("tr", None, true),
            ("\"ab\\u00", None, true),
            ("{\"a\":[1,", None, true),
            ("{\"a\" 1}", None, false),
            ("[1,]", None, false),
        ];
        for (src, end, ended) in cases {
            let p = scan_prefix(src.as_bytes(), Form::Check, &mut Vec::new(), None);
            assert_eq!(p.result.ok(), end, "{src}");
            assert_eq!(p.ended, ended, "{src}");
        }
    }
}
