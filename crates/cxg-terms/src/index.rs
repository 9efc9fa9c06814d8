//! A compact, read-in-place index of one ontology file, kept beside it in
//! `<folder>/.index/`: what selection asks of an ontology (a term by id, by
//! label or synonym without regard to case, and a term's descendants),
//! without parsing the JSON again. Parsing UBERON, MONDO, EFO and CL costs
//! about 0.15 s of CPU each run, NCBITaxon (844 MB of JSON) several
//! seconds; reading their indexes costs milliseconds.
//!
//! The file is little-endian: a fixed header, then sections. Strings are
//! columns (`u32` offsets, n + 1 of them, into a blob); lists of strings
//! (synonyms, replaced_by, consider) are columns whose entries are
//! `u32 length, bytes` repeated; the three lookup tables (lowercase id,
//! label, synonym → term) are sorted string columns with a `u32` term
//! column beside; descendants are one `u32` offset column into the last
//! section, the descendant term numbers of every term in turn. Terms are
//! numbered in byte order of their ids. Everything but the last section is
//! read (and checked) when the index is opened; a term's descendants are
//! read from the file when asked for, so NCBITaxon's 35 million
//! ancestor links are never all in memory.
//!
//! The header names the file indexed (its size, modification time and
//! SHA-256): an index whose file has changed is not used (and is rebuilt).

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 8] = b"CXGONTIX";
/// Bumped whenever the layout changes: an older index is then rebuilt.
const FORMAT: u32 = 2;

const ID_OFF: usize = 0;
const ID_BLOB: usize = 1;
const LABEL_OFF: usize = 2;
const LABEL_BLOB: usize = 3;
const FLAGS: usize = 4;
const SYN_OFF: usize = 5;
const SYN_BLOB: usize = 6;
const REPL_OFF: usize = 7;
const REPL_BLOB: usize = 8;
const CONS_OFF: usize = 9;
const CONS_BLOB: usize = 10;
/// Lookup tables: (offsets, blob, terms) each.
const KEY_ID: usize = 11;
const KEY_LABEL: usize = 14;
const KEY_SYN: usize = 17;
const DESC_OFF: usize = 20;
/// A checksum of each block of the descendants section.
const DESC_SUMS: usize = 21;
/// Always the last section: not read when the index is opened.
const DESC: usize = 22;
const NSEC: usize = 23;
/// The descendants are checked in blocks of this many bytes.
const BLOCK: usize = 1 << 16;
/// An index whose part read at open is larger than this is not believed
/// (NCBITaxon's is 130 MB): a damaged header cannot ask for absurd memory.
const MAX_HEAD: u64 = 4 << 30;

/// magic, format, terms, the file's stamp (size, mtime s+ns, ctime s+ns,
/// device, inode), SHA-256, sections (start, length), total length,
/// checksum of the part read at open.
const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 8 + 8 + 8 + 32 + NSEC * 16 + 8 + 8;

/// A fast checksum (multiply-rotate over 8-byte words, seeded, with the
/// length mixed in) of the bytes read when an index is opened and of each
/// block of descendants, so that a damaged index is rebuilt rather than
/// believed. Not cryptographic: the index is this tool's own file.
struct Sum {
    h: u64,
    carry: [u8; 8],
    nc: usize,
    len: u64,
}

impl Default for Sum {
    fn default() -> Sum {
        Sum {
            h: 0x9e37_79b9_7f4a_7c15,
            carry: [0; 8],
            nc: 0,
            len: 0,
        }
    }
}

fn sum_of(b: &[u8]) -> u64 {
    let mut s = Sum::default();
    s.update(b);
    s.finish()
}

impl Sum {
    fn word(&mut self, w: [u8; 8]) {
        self.h =
            (self.h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn update(&mut self, mut b: &[u8]) {
        self.len += b.len() as u64;
        while self.nc > 0 && !b.is_empty() {
            self.carry[self.nc] = b[0];
            self.nc = (self.nc + 1) % 8;
            b = &b[1..];
            if self.nc == 0 {
                self.word(self.carry);
            }
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(w);
        }
        for &x in chunks.remainder() {
            self.carry[self.nc] = x;
            self.nc += 1;
        }
    }
    fn finish(mut self) -> u64 {
        let n = self.nc;
        if n > 0 {
            self.carry[n..].fill(0);
            self.word(self.carry);
        }
        self.word(self.len.to_le_bytes());
        self.h
    }
}

/// Which lookup table.
#[derive(Clone, Copy)]
pub enum Key {
    /// Ids, lowercase (a case-insensitive id lookup).
    Id,
    /// Labels of current (not deprecated) terms, lowercase.
    Label,
    /// Synonyms of current terms, lowercase.
    Synonym,
}

impl Key {
    fn section(self) -> usize {
        match self {
            Key::Id => KEY_ID,
            Key::Label => KEY_LABEL,
            Key::Synonym => KEY_SYN,
        }
    }
}

/// Which file, in which state, an index was made from: the file's size,
/// modification and change times, device and inode. A file rewritten with
/// its old mtime (`cp -p`, `touch -r`) still has a new ctime or inode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp {
    pub len: u64,
    pub mtime_s: i64,
    pub mtime_ns: u32,
    pub ctime_s: i64,
    pub ctime_ns: u32,
    pub dev: u64,
    pub ino: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            mtime_s: meta.mtime(),
            mtime_ns: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
            ctime_s: meta.ctime(),
            ctime_ns: u32::try_from(meta.ctime_nsec()).unwrap_or(0),
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// One term, as the builder is given it.
pub struct TermIn<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub deprecated: bool,
    pub synonyms: &'a [String],
    pub replaced_by: Option<&'a str>,
    pub consider: &'a [String],
    /// Indexes into the same slice of terms, in any order, each once.
    pub ancestors: &'a [u32],
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn too_big(what: &str) -> String {
    format!("the ontology is too large to index ({what} over 4 GiB)")
}

fn u32_of(n: usize, what: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| too_big(what))
}

/// A string column: offsets then blob.
fn str_column<'a>(items: impl Iterator<Item = &'a str>) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (mut off, mut blob) = (Vec::new(), Vec::new());
    put_u32(&mut off, 0);
    for s in items {
        blob.extend_from_slice(s.as_bytes());
        put_u32(&mut off, u32_of(blob.len(), "strings")?);
    }
    Ok((off, blob))
}

/// A column of string lists.
fn list_column<'a, I>(lists: impl Iterator<Item = I>) -> Result<(Vec<u8>, Vec<u8>), String>
where
    I: Iterator<Item = &'a str>,
{
    let (mut off, mut blob) = (Vec::new(), Vec::new());
    put_u32(&mut off, 0);
    for l in lists {
        for s in l {
            put_u32(&mut blob, u32_of(s.len(), "a string")?);
            blob.extend_from_slice(s.as_bytes());
        }
        put_u32(&mut off, u32_of(blob.len(), "lists")?);
    }
    Ok((off, blob))
}

/// An index built, as its header and sections.
pub struct Built {
    header: Vec<u8>,
    sections: Vec<Vec<u8>>,
}

impl Built {
    /// Write it to `w`.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        w.write_all(&self.header)?;
        for s in &self.sections {
            w.write_all(s)?;
        }
        Ok(())
    }

    /// The whole index in one buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = self.header;
        for s in self.sections {
            out.extend_from_slice(&s);
        }
        out
    }
}

/// The terms given, in term order: numbered by id.
struct Sorted<'a, 't> {
    terms: &'a [TermIn<'t>],
    /// term number -> given index
    order: Vec<u32>,
    /// given index -> term number
    num: Vec<u32>,
}

impl<'a, 't> Sorted<'a, 't> {
    fn new(terms: &'a [TermIn<'t>]) -> Sorted<'a, 't> {
        let n = terms.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by(|&a, &b| terms[a as usize].id.cmp(terms[b as usize].id));
        let mut num = vec![0u32; n];
        for (k, &i) in order.iter().enumerate() {
            num[i as usize] = k as u32;
        }
        Sorted { terms, order, num }
    }

    fn len(&self) -> usize {
        self.terms.len()
    }

    /// Term number `k`.
    fn t(&self, k: usize) -> &'a TermIn<'t> {
        &self.terms[self.order[k] as usize]
    }

    /// The ancestors of term `k` as term numbers (itself left out).
    fn ancestors(&self, k: usize) -> impl Iterator<Item = u32> + '_ {
        self.t(k)
            .ancestors
            .iter()
            .filter_map(|&i| self.num.get(i as usize).copied())
            .filter(move |&a| a != k as u32)
    }
}

/// Build the index of `terms` (made from a file with this stamp and hash).
/// Terms are numbered by id; lookup tables and descendants follow.
pub fn build(terms: &[TermIn], stamp: &Stamp, sha: &[u8; 32]) -> Result<Built, String> {
    u32_of(terms.len(), "terms")?;
    let sorted = Sorted::new(terms);
    let mut sec: Vec<Vec<u8>> = vec![Vec::new(); NSEC];
    columns(&sorted, &mut sec)?;
    lookup_tables(&sorted, &mut sec)?;
    descendants(&sorted, &mut sec)?;
    Ok(Built {
        header: header_bytes(terms.len(), stamp, sha, &sec),
        sections: sec,
    })
}

/// The columns of the terms' fields.
fn columns(s: &Sorted, sec: &mut [Vec<u8>]) -> Result<(), String> {
    let n = s.len();
    (sec[ID_OFF], sec[ID_BLOB]) = str_column((0..n).map(|k| s.t(k).id))?;
    (sec[LABEL_OFF], sec[LABEL_BLOB]) = str_column((0..n).map(|k| s.t(k).label))?;
    sec[FLAGS] = (0..n).map(|k| u8::from(s.t(k).deprecated)).collect();
    (sec[SYN_OFF], sec[SYN_BLOB]) =
        list_column((0..n).map(|k| s.t(k).synonyms.iter().map(String::as_str)))?;
    (sec[REPL_OFF], sec[REPL_BLOB]) = list_column((0..n).map(|k| s.t(k).replaced_by.into_iter()))?;
    (sec[CONS_OFF], sec[CONS_BLOB]) =
        list_column((0..n).map(|k| s.t(k).consider.iter().map(String::as_str)))?;
    Ok(())
}

/// The lookup tables (lowercase id, label, synonym → term), sorted by
/// (key, term).
fn lookup_tables(s: &Sorted, sec: &mut [Vec<u8>]) -> Result<(), String> {
    let mut keys: [Vec<(String, u32)>; 3] = Default::default();
    for k in 0..s.len() {
        let term = s.t(k);
        keys[0].push((term.id.to_lowercase(), k as u32));
        if term.deprecated {
            continue;
        }
        if !term.label.is_empty() {
            keys[1].push((term.label.to_lowercase(), k as u32));
        }
        for syn in term.synonyms {
            keys[2].push((syn.to_lowercase(), k as u32));
        }
    }
    for (table, base) in keys.iter_mut().zip([KEY_ID, KEY_LABEL, KEY_SYN]) {
        table.sort();
        table.dedup();
        (sec[base], sec[base + 1]) = str_column(table.iter().map(|(s, _)| s.as_str()))?;
        sec[base + 2] = table.iter().flat_map(|(_, k)| k.to_le_bytes()).collect();
    }
    Ok(())
}

/// The descendants: the transpose of the ancestors, each list in term
/// order, with the checksum of each block.
fn descendants(s: &Sorted, sec: &mut [Vec<u8>]) -> Result<(), String> {
    let n = s.len();
    let mut count = vec![0u64; n + 1];
    for k in 0..n {
        for x in s.ancestors(k) {
            count[x as usize + 1] += 1;
        }
    }
    for k in 0..n {
        count[k + 1] += count[k];
    }
    let total = count[n];
    u32_of(
        usize::try_from(total).unwrap_or(usize::MAX),
        "ancestor links",
    )?;
    sec[DESC_OFF] = count
        .iter()
        .flat_map(|&c| (c as u32).to_le_bytes())
        .collect();
    let mut fill: Vec<u64> = count[..n].to_vec();
    drop(count);
    let mut desc = vec![0u8; total as usize * 4];
    // terms in increasing order: every list comes out sorted
    for k in 0..n {
        for x in s.ancestors(k) {
            let at = fill[x as usize] as usize * 4;
            desc[at..at + 4].copy_from_slice(&(k as u32).to_le_bytes());
            fill[x as usize] += 1;
        }
    }
    sec[DESC_SUMS] = desc
        .chunks(BLOCK)
        .flat_map(|b| sum_of(b).to_le_bytes())
        .collect();
    sec[DESC] = desc;
    Ok(())
}

/// The header of an index of `n` terms with these sections.
fn header_bytes(n: usize, stamp: &Stamp, sha: &[u8; 32], sec: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT);
    put_u32(&mut out, n as u32);
    out.extend_from_slice(&stamp.len.to_le_bytes());
    out.extend_from_slice(&stamp.mtime_s.to_le_bytes());
    put_u32(&mut out, stamp.mtime_ns);
    put_u32(&mut out, stamp.ctime_ns);
    out.extend_from_slice(&stamp.ctime_s.to_le_bytes());
    out.extend_from_slice(&stamp.dev.to_le_bytes());
    out.extend_from_slice(&stamp.ino.to_le_bytes());
    out.extend_from_slice(sha);
    let mut at = HEADER_LEN as u64;
    for s in sec {
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        at += s.len() as u64;
    }
    out.extend_from_slice(&at.to_le_bytes());
    let mut sum = Sum::default();
    for s in &sec[..DESC] {
        sum.update(s);
    }
    out.extend_from_slice(&sum.finish().to_le_bytes());
    out
}

/// An opened index.
pub struct Index {
    /// The file from its start up to the descendants (or all of it, when
    /// the index was just built).
    head: Vec<u8>,
    /// The file, to read descendants from; None when `head` is all of it.
    file: Option<File>,
    sec: [(usize, usize); NSEC],
    n: usize,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    let w = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(w);
    Some(u64::from_le_bytes(a))
}

struct Header {
    n: usize,
    stamp: Stamp,
    sha: [u8; 32],
    sec: [(usize, usize); NSEC],
    total: u64,
    sum: u64,
}

fn header(b: &[u8]) -> Result<Header, String> {
    if b.len() < HEADER_LEN || &b[..8] != MAGIC {
        return Err("not an ontology index".into());
    }
    if le32(b, 8) != Some(FORMAT) {
        return Err("an index of an older format".into());
    }
    let bad = || "a damaged index header".to_string();
    let n = le32(b, 12).ok_or_else(bad)? as usize;
    let stamp = Stamp {
        len: le64(b, 16).ok_or_else(bad)?,
        mtime_s: le64(b, 24).ok_or_else(bad)? as i64,
        mtime_ns: le32(b, 32).ok_or_else(bad)?,
        ctime_ns: le32(b, 36).ok_or_else(bad)?,
        ctime_s: le64(b, 40).ok_or_else(bad)? as i64,
        dev: le64(b, 48).ok_or_else(bad)?,
        ino: le64(b, 56).ok_or_else(bad)?,
    };
    let mut sha = [0u8; 32];
    sha.copy_from_slice(&b[64..96]);
    let mut sec = [(0usize, 0usize); NSEC];
    let mut at = HEADER_LEN as u64;
    for (i, s) in sec.iter_mut().enumerate() {
        let start = le64(b, 96 + i * 16).ok_or_else(bad)?;
        let len = le64(b, 104 + i * 16).ok_or_else(bad)?;
        if start != at {
            return Err(bad());
        }
        at = start.checked_add(len).ok_or_else(bad)?;
        *s = (
            usize::try_from(start).map_err(|_| bad())?,
            usize::try_from(len).map_err(|_| bad())?,
        );
    }
    let total = le64(b, 96 + NSEC * 16).ok_or_else(bad)?;
    if total != at {
        return Err(bad());
    }
    let sum = le64(b, 104 + NSEC * 16).ok_or_else(bad)?;
    // sizes that follow from the number of terms, checked before anything
    // is read: a damaged header cannot ask for absurd memory
    let cols = (n as u64 + 1) * 4;
    let desc_len = sec[DESC].1 as u64;
    if [ID_OFF, LABEL_OFF, SYN_OFF, REPL_OFF, CONS_OFF, DESC_OFF]
        .iter()
        .any(|&c| sec[c].1 as u64 != cols)
        || sec[FLAGS].1 != n
        || sec[DESC].0 as u64 > MAX_HEAD
        || desc_len % 4 != 0
        || desc_len > 4 * u64::from(u32::MAX)
        || sec[DESC_SUMS].1 as u64 != desc_len.div_ceil(BLOCK as u64) * 8
    {
        return Err(bad());
    }
    Ok(Header {
        n,
        stamp,
        sha,
        sec,
        total,
        sum,
    })
}

/// The checksum of everything but the descendants matches the header's.
fn verify(b: &[u8], h: &Header) -> Result<(), String> {
    let mut sum = Sum::default();
    sum.update(b.get(HEADER_LEN..h.sec[DESC].0).unwrap_or(&[]));
    if sum.finish() == h.sum {
        Ok(())
    } else {
        Err("a damaged index".into())
    }
}

impl Index {
    /// An index just built.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Index, String> {
        let h = header(&bytes)?;
        if h.total != bytes.len() as u64 {
            return Err("a truncated index".into());
        }
        verify(&bytes, &h)?;
        let ix = Index {
            head: bytes,
            file: None,
            sec: h.sec,
            n: h.n,
        };
        ix.check()?;
        Ok(ix)
    }

    /// The index at `path`, if it is one of a file with this stamp (and,
    /// when `sha` is given, this SHA-256). Err says why it cannot be used.
    pub fn open(path: &Path, stamp: &Stamp, sha: Option<&[u8; 32]>) -> Result<Index, String> {
        // a FIFO or device planted there would block or never end
        if !std::fs::metadata(path)
            .map_err(|e| e.to_string())?
            .is_file()
        {
            return Err("not a regular file".into());
        }
        let mut f = File::open(path).map_err(|e| e.to_string())?;
        let meta = f.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        let len = meta.len();
        let mut head = vec![0u8; HEADER_LEN];
        f.read_exact(&mut head)
            .map_err(|_| "not an ontology index".to_string())?;
        let h = header(&head)?;
        if h.stamp != *stamp {
            return Err("made from an earlier state of the file".into());
        }
        if sha.is_some_and(|s| *s != h.sha) {
            return Err("made from other bytes of the file".into());
        }
        if h.total != len {
            return Err("a truncated index".into());
        }
        head.resize(h.sec[DESC].0, 0);
        f.read_exact(&mut head[HEADER_LEN..])
            .map_err(|e| format!("unreadable: {e}"))?;
        verify(&head, &h)?;
        let ix = Index {
            head,
            file: Some(f),
            sec: h.sec,
            n: h.n,
        };
        ix.check()?;
        Ok(ix)
    }

    fn bytes(&self, s: usize) -> &[u8] {
        let (start, len) = self.sec[s];
        self.head.get(start..start + len).unwrap_or(&[])
    }

    fn off(&self, s: usize, i: usize) -> usize {
        le32(self.bytes(s), i * 4).unwrap_or(0) as usize
    }

    /// Offsets well formed: `count + 1` of them, rising, the last the
    /// blob's length (and, for strings, on character boundaries).
    fn check_column(
        &self,
        off: usize,
        blob: usize,
        count: usize,
        text: bool,
    ) -> Result<(), String> {
        let bad = || "a damaged index".to_string();
        let b = self.bytes(blob);
        if self.bytes(off).len() != (count + 1) * 4 || self.off(off, 0) != 0 {
            return Err(bad());
        }
        let s = if text {
            Some(std::str::from_utf8(b).map_err(|_| bad())?)
        } else {
            None
        };
        let mut prev = 0;
        for i in 1..=count {
            let o = self.off(off, i);
            if o < prev || o > b.len() || s.is_some_and(|s| !s.is_char_boundary(o)) {
                return Err(bad());
            }
            prev = o;
        }
        if prev != b.len() {
            return Err(bad());
        }
        Ok(())
    }

    fn check_lists(&self, off: usize, blob: usize) -> Result<(), String> {
        self.check_column(off, blob, self.n, false)?;
        let b = self.bytes(blob);
        for i in 0..self.n {
            let (mut at, end) = (self.off(off, i), self.off(off, i + 1));
            while at < end {
                let len = le32(b, at).ok_or("a damaged index")? as usize;
                let s = b.get(at + 4..at + 4 + len).ok_or("a damaged index")?;
                std::str::from_utf8(s).map_err(|_| "a damaged index")?;
                at += 4 + len;
            }
            if at != end {
                return Err("a damaged index".into());
            }
        }
        Ok(())
    }

    /// Everything read is well formed, so that no lookup can go astray.
    fn check(&self) -> Result<(), String> {
        let n = self.n;
        self.check_column(ID_OFF, ID_BLOB, n, true)?;
        self.check_column(LABEL_OFF, LABEL_BLOB, n, true)?;
        if self.bytes(FLAGS).len() != n {
            return Err("a damaged index".into());
        }
        self.check_lists(SYN_OFF, SYN_BLOB)?;
        self.check_lists(REPL_OFF, REPL_BLOB)?;
        self.check_lists(CONS_OFF, CONS_BLOB)?;
        for base in [KEY_ID, KEY_LABEL, KEY_SYN] {
            let k = self.bytes(base + 2).len() / 4;
            if self.bytes(base + 2).len() % 4 != 0 {
                return Err("a damaged index".into());
            }
            self.check_column(base, base + 1, k, true)?;
            if (0..k).any(|i| self.off(base + 2, i) >= n) {
                return Err("a damaged index".into());
            }
        }
        if self.bytes(DESC_OFF).len() != (n + 1) * 4 {
            return Err("a damaged index".into());
        }
        let mut prev = 0;
        for i in 0..=n {
            let o = self.off(DESC_OFF, i);
            if o < prev {
                return Err("a damaged index".into());
            }
            prev = o;
        }
        if prev.checked_mul(4) != Some(self.sec[DESC].1) {
            return Err("a damaged index".into());
        }
        Ok(())
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.n
    }

    /// No term (an index of an empty file).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn str_at(&self, off: usize, blob: usize, i: usize) -> &str {
        let b = self.bytes(blob);
        let (s, e) = (self.off(off, i), self.off(off, i + 1));
        b.get(s..e)
            .and_then(|x| std::str::from_utf8(x).ok())
            .unwrap_or("")
    }

    fn list_at(&self, off: usize, blob: usize, i: usize) -> Vec<&str> {
        let b = self.bytes(blob);
        let (mut at, end) = (self.off(off, i), self.off(off, i + 1));
        let mut v = Vec::new();
        while at < end {
            let len = le32(b, at).unwrap_or(0) as usize;
            if let Some(s) = b
                .get(at + 4..at + 4 + len)
                .and_then(|x| std::str::from_utf8(x).ok())
            {
                v.push(s);
            }
            at += 4 + len;
        }
        v
    }

    pub fn id(&self, i: usize) -> &str {
        self.str_at(ID_OFF, ID_BLOB, i)
    }
    pub fn label(&self, i: usize) -> &str {
        self.str_at(LABEL_OFF, LABEL_BLOB, i)
    }
    pub fn deprecated(&self, i: usize) -> bool {
        self.bytes(FLAGS).get(i).is_some_and(|&f| f != 0)
    }
    pub fn synonyms(&self, i: usize) -> Vec<&str> {
        self.list_at(SYN_OFF, SYN_BLOB, i)
    }
    pub fn replaced_by(&self, i: usize) -> Option<&str> {
        self.list_at(REPL_OFF, REPL_BLOB, i).into_iter().next()
    }
    pub fn consider(&self, i: usize) -> Vec<&str> {
        self.list_at(CONS_OFF, CONS_BLOB, i)
    }

    /// The term with exactly this id.
    pub fn find(&self, id: &str) -> Option<usize> {
        let k = partition(self.n, |i| self.id(i) < id);
        (k < self.n && self.id(k) == id).then_some(k)
    }

    /// The terms whose key (already lowercase) is `lc`, in term order.
    pub fn lookup(&self, key: Key, lc: &str) -> Vec<usize> {
        let base = key.section();
        let k = self.bytes(base + 2).len() / 4;
        let at = |i: usize| self.str_at(base, base + 1, i);
        let mut i = partition(k, |i| at(i) < lc);
        let mut v = Vec::new();
        while i < k && at(i) == lc {
            v.push(self.off(base + 2, i));
            i += 1;
        }
        v
    }

    /// The descendants of term `i` (not the term itself), in term order.
    /// The blocks holding them are checked against their checksums, and
    /// the list must be well formed (rising, other terms): Err means the
    /// index is damaged.
    pub fn descendants(&self, i: usize) -> Result<Vec<usize>, String> {
        let bad = || "a damaged index".to_string();
        let (s, e) = (self.off(DESC_OFF, i), self.off(DESC_OFF, i + 1));
        if i >= self.n || e < s || e - s > self.n {
            return Err(bad());
        }
        let (base, len) = self.sec[DESC];
        if s == e {
            return Ok(Vec::new());
        }
        // the whole blocks that hold bytes s*4 .. e*4 of the section
        let (first, last) = (s * 4 / BLOCK, (e * 4 - 1) / BLOCK);
        let (from, to) = (first * BLOCK, ((last + 1) * BLOCK).min(len));
        if e * 4 > len || from >= to {
            return Err(bad());
        }
        let data: Cow<[u8]> = match &self.file {
            None => Cow::Borrowed(self.head.get(base + from..base + to).ok_or_else(bad)?),
            Some(f) => {
                let mut b = vec![0u8; to - from];
                f.read_exact_at(&mut b, (base + from) as u64)
                    .map_err(|e| format!("cannot read the index: {e}"))?;
                Cow::Owned(b)
            }
        };
        for (k, block) in data.chunks(BLOCK).enumerate() {
            if le64(self.bytes(DESC_SUMS), (first + k) * 8) != Some(sum_of(block)) {
                return Err(bad());
            }
        }
        let list = data.get(s * 4 - from..e * 4 - from).ok_or_else(bad)?;
        let v: Vec<usize> = list
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
            .collect();
        if v.iter().any(|&d| d >= self.n || d == i) || v.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad());
        }
        Ok(v)
    }
}

/// The first of `0..n` for which `below` is false (`below` true for a prefix).
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            len: 7,
            mtime_s: 1,
            mtime_ns: 2,
            ino: 9,
            ..Stamp::default()
        }
    }

    fn sample() -> Vec<u8> {
        let syn = vec!["Léaf".to_string(), "tip".to_string()];
        let none: Vec<String> = Vec::new();
        let cons = vec!["T:2".to_string()];
        let terms = [
            TermIn {
                id: "T:3",
                label: "leaf",
                deprecated: false,
                synonyms: &syn,
                replaced_by: None,
                consider: &none,
                ancestors: &[2, 1],
            },
            TermIn {
                id: "T:1",
                label: "Root",
                deprecated: false,
                synonyms: &none,
                replaced_by: None,
                consider: &none,
                ancestors: &[],
            },
            TermIn {
                id: "T:2",
                label: "mid",
                deprecated: false,
                synonyms: &none,
                replaced_by: None,
                consider: &none,
                ancestors: &[1],
            },
            TermIn {
                id: "T:9",
                label: "",
                deprecated: true,
                synonyms: &syn,
                replaced_by: Some("T:2"),
                consider: &cons,
                ancestors: &[],
            },
        ];
        build(&terms, &stamp(), &[7; 32]).unwrap().into_bytes()
    }

    #[test]
    fn a_header_asking_for_absurd_memory_is_refused_before_anything_is_read() {
        let d = std::env::temp_dir().join(format!("cxg-index-huge-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x.idx");
        let mut b = sample();
        // the ID blob claims a terabyte; every later section moves up, the
        // total follows, and the (sparse) file is made that long
        let grow: u64 = 1 << 40;
        let at_len = 104 + ID_BLOB * 16;
        let len = le64(&b, at_len).unwrap();
        b[at_len..at_len + 8].copy_from_slice(&(len + grow).to_le_bytes());
        for i in ID_BLOB + 1..NSEC {
            let at = 96 + i * 16;
            let start = le64(&b, at).unwrap();
            b[at..at + 8].copy_from_slice(&(start + grow).to_le_bytes());
        }
        let at_total = 96 + NSEC * 16;
        let total = le64(&b, at_total).unwrap() + grow;
        b[at_total..at_total + 8].copy_from_slice(&total.to_le_bytes());
        std::fs::write(&p, &b).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(total)
            .unwrap();
        let r = Index::open(&p, &stamp(), None);
        assert!(matches!(r, Err(e) if e.contains("damaged")));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn lookups_and_descendants() {
        let ix = Index::from_bytes(sample()).unwrap();
        assert_eq!(ix.len(), 4);
        // numbered by id
        assert_eq!(
            (0..4).map(|i| ix.id(i)).collect::<Vec<_>>(),
            ["T:1", "T:2", "T:3", "T:9"]
        );
        assert_eq!(ix.find("T:3"), Some(2));
        assert_eq!(ix.find("T:4"), None);
        assert_eq!(ix.lookup(Key::Id, "t:3"), [2]);
        assert_eq!(ix.lookup(Key::Label, "root"), [0]);
        // deprecated terms are not found by label or synonym
        assert_eq!(ix.lookup(Key::Synonym, "léaf"), [2]);
        assert_eq!(ix.lookup(Key::Label, ""), Vec::<usize>::new());
        assert_eq!(ix.synonyms(2), ["Léaf", "tip"]);
        assert_eq!(ix.replaced_by(3), Some("T:2"));
        assert_eq!(ix.consider(3), ["T:2"]);
        assert!(ix.deprecated(3) && !ix.deprecated(0));
        assert_eq!(ix.descendants(0).unwrap(), [1, 2]);
        assert_eq!(ix.descendants(1).unwrap(), [2]);
        assert_eq!(ix.descendants(2).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn a_file_index_reads_descendants_from_disk_and_checks_its_stamp() {
        let d = std::env::temp_dir().join(format!("cxg-index-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x.idx");
        let bytes = sample();
        std::fs::write(&p, &bytes).unwrap();
        let stamp = stamp();
        let ix = Index::open(&p, &stamp, Some(&[7; 32])).unwrap();
        assert_eq!(ix.descendants(0).unwrap(), [1, 2]);
        let other = Stamp {
            len: 8,
            ..stamp.clone()
        };
        assert!(matches!(Index::open(&p, &other, None), Err(e) if e.contains("earlier state")));
        assert!(
            matches!(Index::open(&p, &stamp, Some(&[8; 32])), Err(e) if e.contains("other bytes"))
        );
        // truncated, or any byte of the read part damaged: refused, never a panic
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        assert!(Index::open(&p, &stamp, None).is_err());
        for at in (0..bytes.len()).step_by(3) {
            let mut b = bytes.clone();
            b[at] ^= 0xa5;
            std::fs::write(&p, &b).unwrap();
            if let Ok(ix) = Index::open(&p, &stamp, None) {
                for i in 0..ix.len() {
                    let _ = (ix.id(i), ix.synonyms(i), ix.descendants(i));
                }
                let _ = ix.lookup(Key::Label, "leaf");
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
