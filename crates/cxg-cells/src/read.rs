//! Reading one-dimensional HDF5 datasets piece by piece, bounded by the
//! file's size: integer codes, bools, strings, and any scalar value as a
//! string (for categories of numbers or bools) or as a key (for counting
//! distinct values of a numeric column without formatting each one).

use crate::codes::{Code, Codes};
use hdf5_reader::group::Group;
use hdf5_reader::{ByteOrder, Dataset, Datatype, StringSize, VarLenKind};
use std::collections::HashMap;

/// A file's error: one line, which becomes its record's `error`.
pub type R<T> = std::result::Result<T, String>;

/// `.at(place)?` for the HDF5 reader's errors: `place: error`.
pub trait At<T> {
    fn at(self, place: &str) -> R<T>;
}

impl<T> At<T> for hdf5_reader::error::Result<T> {
    fn at(self, place: &str) -> R<T> {
        self.map_err(|e| crate::file::h5_error(place, &e))
    }
}

pub fn attr_string(attr: hdf5_reader::error::Result<hdf5_reader::Attribute>) -> Option<String> {
    attr.ok().and_then(|a| a.read_string().ok())
}

pub fn is_string(dt: &Datatype) -> bool {
    matches!(dt, Datatype::String { .. })
        || matches!(
            dt,
            Datatype::VarLen {
                kind: VarLenKind::String,
                ..
            }
        )
}

pub fn describe(dt: &Datatype) -> String {
    match dt {
        Datatype::FixedPoint { size, signed, .. } => {
            format!("{}int{}", if *signed { "" } else { "u" }, *size as u32 * 8)
        }
        Datatype::FloatingPoint { size, .. } => format!("float{}", *size as u32 * 8),
        Datatype::String {
            size: StringSize::Fixed(n),
            ..
        } => format!("fixed string({n})"),
        Datatype::String { .. } => "string".into(),
        Datatype::Enum { members, .. } => format!("enum of {} members", members.len()),
        Datatype::Compound { .. } => "compound".into(),
        Datatype::VarLen { .. } => "variable-length".into(),
        _ => format!("{dt:?}"),
    }
}

/// A categorical column: one code per cell (-1 = missing) and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub codes: Codes,
    pub categories: Vec<String>,
}

/// Plain values as a categorical: each distinct value once.
pub fn intern(values: Vec<String>) -> Column {
    let mut index: HashMap<String, i32> = HashMap::new();
    let mut categories = Vec::new();
    let mut codes = Vec::with_capacity(values.len());
    for v in values {
        let next = categories.len() as i32;
        let c = *index.entry(v.clone()).or_insert_with(|| {
            categories.push(v);
            next
        });
        codes.push(c);
    }
    Column {
        codes: codes.into(),
        categories,
    }
}

/// How one scalar element is stored.
#[derive(Debug, Clone)]
pub enum Scalar {
    Int {
        size: usize,
        signed: bool,
        big: bool,
    },
    Float {
        size: usize,
        big: bool,
    },
    /// An enum (h5py's bool): the bytes of its TRUE member.
    Bool {
        size: usize,
        truth: Vec<u8>,
    },
}

impl Scalar {
    /// The scalar kind of `dt`, if it is one this reader decodes.
    pub fn of(dt: &Datatype) -> Option<Scalar> {
        match dt {
            Datatype::FixedPoint {
                size: size @ (1 | 2 | 4 | 8),
                signed,
                byte_order,
            } => Some(Scalar::Int {
                size: usize::from(*size),
                signed: *signed,
                big: matches!(byte_order, ByteOrder::BigEndian),
            }),
            Datatype::FloatingPoint {
                size: size @ (4 | 8),
                byte_order,
            } => Some(Scalar::Float {
                size: usize::from(*size),
                big: matches!(byte_order, ByteOrder::BigEndian),
            }),
            Datatype::Enum { base, members } => {
                let Datatype::FixedPoint { size, .. } = base.as_ref() else {
                    return None;
                };
                let truth = members
                    .iter()
                    .find(|m| m.name.eq_ignore_ascii_case("true"))?
                    .value
                    .clone();
                Some(Scalar::Bool {
                    size: usize::from(*size),
                    truth,
                })
            }
            _ => None,
        }
    }

    pub fn size(&self) -> usize {
        match self {
            Scalar::Int { size, .. } | Scalar::Float { size, .. } | Scalar::Bool { size, .. } => {
                *size
            }
        }
    }

    /// An integer element as i64 (u64 above i64::MAX saturates: only
    /// codes and distinct keys use this).
    fn int(v: &[u8], signed: bool, big: bool) -> i64 {
        let size = v.len();
        let mut b = [0u8; 8];
        if big {
            b[8 - size..].copy_from_slice(v);
            b.reverse();
        } else {
            b[..size].copy_from_slice(v);
        }
        if signed {
            let shift = 64 - 8 * size as u32;
            (i64::from_le_bytes(b) << shift) >> shift
        } else {
            i64::try_from(u64::from_le_bytes(b)).unwrap_or(i64::MAX)
        }
    }

    fn float(v: &[u8], big: bool) -> f64 {
        let mut b = [0u8; 8];
        b[..v.len()].copy_from_slice(v);
        if v.len() == 4 {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[..4]);
            if big {
                f64::from(f32::from_be_bytes(w))
            } else {
                f64::from(f32::from_le_bytes(w))
            }
        } else if big {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        }
    }

    /// A key per element for counting distinct values (pandas' `nunique`:
    /// NaN is no value, -0.0 equals 0.0); None for NaN.
    pub fn key(&self, v: &[u8]) -> Option<u64> {
        match self {
            Scalar::Int { signed, big, .. } => Some(Self::int(v, *signed, *big) as u64),
            Scalar::Float { big, .. } => {
                let x = Self::float(v, *big);
                (!x.is_nan()).then(|| if x == 0.0 { 0 } else { x.to_bits() })
            }
            Scalar::Bool { truth, .. } => Some(u64::from(v == truth.as_slice())),
        }
    }

    /// [`Scalar::key`] in 32 bits, for elements of up to four bytes (a
    /// float32 by its own bits; an integer's sign extension cut back to 32
    /// bits is still one key per value).
    pub fn key32(&self, v: &[u8]) -> Option<u32> {
        match self {
            Scalar::Float { size: 4, big } => {
                let b = [v[0], v[1], v[2], v[3]];
                let x = if *big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                (!x.is_nan()).then(|| if x == 0.0 { 0 } else { x.to_bits() })
            }
            _ => self.key(v).map(|k| k as u32),
        }
    }

    /// Push [`Scalar::key32`] of every element of `raw` (whole elements),
    /// deciding the type once: a float32 column, the common case, is a
    /// loop the compiler vectorises (NaNs, rare, are taken out after).
    pub fn extend_keys32(&self, raw: &[u8], out: &mut Vec<u32>) {
        match self {
            Scalar::Float { size: 4, big } => {
                let big = *big;
                let start = out.len();
                out.extend(raw.chunks_exact(4).map(|v| {
                    let b = [v[0], v[1], v[2], v[3]];
                    let bits = if big {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    };
                    if bits == NEGATIVE_ZERO {
                        0
                    } else {
                        bits
                    }
                }));
                if out[start..].iter().any(|&b| is_nan32(b)) {
                    let piece = out.split_off(start);
                    out.extend(piece.into_iter().filter(|&b| !is_nan32(b)));
                }
            }
            // an int32's key is its own bits
            Scalar::Int {
                size: 4,
                big: false,
                ..
            } => out.extend(
                raw.chunks_exact(4)
                    .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]])),
            ),
            _ => out.extend(raw.chunks_exact(self.size()).filter_map(|v| self.key32(v))),
        }
    }

    /// Push [`Scalar::key`] of every element of `raw` (whole elements).
    pub fn extend_keys(&self, raw: &[u8], out: &mut Vec<u64>) {
        out.extend(raw.chunks_exact(self.size()).filter_map(|v| self.key(v)));
    }

    /// An element as Python prints it (`True`, `3`, `0.5`, `2.0`).
    pub fn text(&self, v: &[u8]) -> String {
        match self {
            Scalar::Int { signed, big, .. } => Self::int(v, *signed, *big).to_string(),
            Scalar::Float { big, .. } => {
                let x = Self::float(v, *big);
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                    format!("{x:.1}")
                } else {
                    format!("{x}")
                }
            }
            Scalar::Bool { truth, .. } => if v == truth.as_slice() {
                "True"
            } else {
                "False"
            }
            .into(),
        }
    }
}

/// The bits of a float32 -0.0, counted as 0.0.
const NEGATIVE_ZERO: u32 = 0x8000_0000;

/// Whether the bits of a float32 are a NaN (no value).
fn is_nan32(bits: u32) -> bool {
    bits & 0x7fff_ffff > 0x7f80_0000
}

/// Visit the values of a one-dimensional dataset in order, as raw bytes of
/// `elem` bytes each, piece by piece. Chunked data is decoded one chunk at a
/// time (the chunks the file stores, never the size it declares: a chunk
/// missing or out of order is an error); contiguous data is first checked
/// to fit in the file. So nothing is allocated from a declared size alone.
pub fn for_each_piece(
    ds: &Dataset,
    place: &str,
    file_len: u64,
    mut f: impl FnMut(&[u8]) -> R<()>,
) -> R<u64> {
    let n = match ds.shape() {
        [n] => *n,
        s => {
            return Err(format!(
            "{place}: unsupported layout: shape {s:?}, expected one dimension (one value per cell)"
        ))
        }
    };
    let elem = ds.raw_element_size().at(place)?;
    if elem == 0 {
        return Err(format!("{place}: zero-size elements"));
    }
    let elem64 = elem as u64;
    if ds.chunks().is_none() {
        let bytes = n.saturating_mul(elem64);
        if bytes > file_len {
            return Err(format!(
                "{place}: declares {n} values ({bytes} bytes), more than the file's {file_len} bytes"
            ));
        }
        let raw = ds.read_raw_bytes().at(place)?;
        if raw.len() as u64 != bytes {
            return Err(format!(
                "{place}: {} bytes stored for {n} values",
                raw.len()
            ));
        }
        f(&raw)?;
        return Ok(n);
    }
    let mut done = 0u64;
    for chunk in ds.iter_chunks().at(place)? {
        let chunk = chunk.at(place)?;
        if chunk.offsets().first().copied() != Some(done) {
            return Err(format!(
                "{place}: the stored chunks do not follow each other (at value {done}); missing or out-of-order chunks are not supported"
            ));
        }
        if done >= n {
            break;
        }
        let bytes = chunk.bytes();
        let take = (bytes.len() as u64 / elem64).min(n - done);
        if take == 0 {
            return Err(format!("{place}: an empty chunk at value {done}"));
        }
        // take <= bytes.len() / elem, so the product fits
        f(&bytes[..(take as usize) * elem])?;
        done += take;
    }
    if done != n {
        return Err(format!(
            "{place}: declares {n} values but stores only {done}"
        ));
    }
    Ok(n)
}

/// Grow `v` by `more` without aborting when memory runs out.
pub fn reserve<T>(v: &mut Vec<T>, more: usize, place: &str) -> R<()> {
    v.try_reserve(more)
        .map_err(|_| format!("{place}: not enough memory for {} values", v.len() + more))
}

/// Visit each element of a scalar dataset, decoded by `kind`.
pub fn for_each_scalar(
    ds: &Dataset,
    kind: &Scalar,
    place: &str,
    file_len: u64,
    mut f: impl FnMut(&[u8]) -> R<()>,
) -> R<u64> {
    let size = kind.size();
    if size == 0 || ds.raw_element_size().at(place)? != size {
        return Err(format!("{place}: elements of an unexpected size"));
    }
    for_each_piece(ds, place, file_len, |raw| {
        for v in raw.chunks_exact(size) {
            f(v)?;
        }
        Ok(())
    })
}

/// A key per element of a scalar dataset into `keys` (`extend`:
/// [`Scalar::extend_keys`] or [`Scalar::extend_keys32`]; none for NaN),
/// decoded piece by piece; returns the number of elements.
pub fn scalar_keys<K>(
    ds: &Dataset,
    kind: &Scalar,
    place: &str,
    file_len: u64,
    extend: impl Fn(&Scalar, &[u8], &mut Vec<K>),
    keys: &mut Vec<K>,
) -> R<u64> {
    let size = kind.size();
    if size == 0 || ds.raw_element_size().at(place)? != size {
        return Err(format!("{place}: elements of an unexpected size"));
    }
    keys.clear();
    for_each_piece(ds, place, file_len, |raw| {
        reserve(keys, raw.len() / size, place)?;
        extend(kind, &raw[..raw.len() / size * size], keys);
        Ok(())
    })
}

pub fn read_codes(g: &Group, name: &str, place: &str, file_len: u64) -> R<Codes> {
    let ds = g.dataset(name).at(place)?;
    let Some(Scalar::Int { size, signed, big }) = Scalar::of(ds.dtype()) else {
        return Err(format!(
            "{place}: unsupported layout: codes of type {}, not integers",
            describe(ds.dtype())
        ));
    };
    let (ds, len) = (&ds, file_len);
    match (size, signed) {
        (1, true) => code_pieces(ds, place, len, 1, |raw, out: &mut Vec<i8>| {
            out.extend(raw.iter().map(|&b| b as i8));
            Ok(())
        }),
        (1, false) | (2, true) => code_pieces(ds, place, len, size, |raw, out: &mut Vec<i16>| {
            push_codes16(raw, signed, big, out);
            Ok(())
        }),
        _ => code_pieces(ds, place, len, size, |raw, out: &mut Vec<i32>| {
            push_codes32(raw, size, signed, big, out)
        }),
    }
}

/// The codes of `ds`, piece by piece, each piece decoded onto the vector
/// by `push` (whole values of `size` bytes).
fn code_pieces<C: Code>(
    ds: &Dataset,
    place: &str,
    file_len: u64,
    size: usize,
    push: impl Fn(&[u8], &mut Vec<C>) -> Result<(), String>,
) -> R<Codes> {
    let mut codes: Vec<C> = Vec::new();
    for_each_piece(ds, place, file_len, |raw| {
        if raw.len() % size != 0 {
            return Err(format!("{place}: {} bytes is not whole values", raw.len()));
        }
        reserve(&mut codes, raw.len() / size, place)?;
        push(raw, &mut codes).map_err(|e| format!("{place}: {e}"))
    })?;
    Ok(C::wrap(codes))
}

/// uint8 or int16 codes as i16 (always fits).
fn push_codes16(raw: &[u8], signed: bool, big: bool, out: &mut Vec<i16>) {
    let two = |v: &[u8]| [v[0], v[1]];
    match (signed, big) {
        (false, _) => out.extend(raw.iter().map(|&b| i16::from(b))),
        (true, false) => out.extend(raw.chunks_exact(2).map(|v| i16::from_le_bytes(two(v)))),
        (true, true) => out.extend(raw.chunks_exact(2).map(|v| i16::from_be_bytes(two(v)))),
    }
}

/// Codes of any other integer type as i32: uint16 and int32 in one pass,
/// the rest value by value (a code that does not fit is an error).
fn push_codes32(
    raw: &[u8],
    size: usize,
    signed: bool,
    big: bool,
    out: &mut Vec<i32>,
) -> Result<(), String> {
    match (size, signed, big) {
        (2, false, false) => out.extend(
            raw.chunks_exact(2)
                .map(|v| i32::from(u16::from_le_bytes([v[0], v[1]]))),
        ),
        (4, true, false) => out.extend(
            raw.chunks_exact(4)
                .map(|v| i32::from_le_bytes([v[0], v[1], v[2], v[3]])),
        ),
        _ => {
            for v in raw.chunks_exact(size) {
                let x = Scalar::int(v, signed, big);
                if !signed && size == 8 && x == i64::MAX {
                    return Err("a code is out of range".into());
                }
                out.push(i32::try_from(x).map_err(|_| format!("code {x} is out of range"))?);
            }
        }
    }
    Ok(())
}

/// The values of a string dataset; of a scalar dataset (categories of
/// numbers or bools), each as Python prints it.
pub fn read_values(g: &Group, name: &str, place: &str, file_len: u64) -> R<Vec<String>> {
    let ds = g.dataset(name).at(place)?;
    if is_string(ds.dtype()) {
        // the stored chunks must hold every declared value before the
        // whole dataset is read (one chunk decoded at a time, then dropped)
        for_each_piece(&ds, place, file_len, |_| Ok(()))?;
        return ds.read_strings().at(place);
    }
    let Some(kind) = Scalar::of(ds.dtype()) else {
        return Err(format!(
            "{place}: unsupported layout: values of type {}, not strings or numbers",
            describe(ds.dtype())
        ));
    };
    let mut out = Vec::new();
    for_each_scalar(&ds, &kind, place, file_len, |v| {
        reserve(&mut out, 1, place)?;
        out.push(kind.text(v));
        Ok(())
    })?;
    Ok(out)
}

/// One bool per element of an HDF5 bool (an enum over int8, as h5py
/// writes it), or of an integer 0/1 dataset.
pub fn bools(g: &Group, name: &str, place: &str, file_len: u64) -> R<Vec<bool>> {
    let ds = g.dataset(name).at(place)?;
    let kind = match (Scalar::of(ds.dtype()), ds.dtype()) {
        (Some(k @ (Scalar::Bool { .. } | Scalar::Int { .. })), _) => k,
        (_, Datatype::Bitfield { size, .. }) => Scalar::Int {
            size: usize::from(*size),
            signed: false,
            big: false,
        },
        (_, Datatype::Enum { .. }) => {
            return Err(format!(
                "{place}: unsupported layout: an enum without a TRUE member, not bools"
            ))
        }
        (_, dt) => {
            return Err(format!(
                "{place}: unsupported layout: a {} dataset, not bools",
                describe(dt)
            ))
        }
    };
    let mut out: Vec<bool> = Vec::new();
    let size = kind.size();
    for_each_piece(&ds, place, file_len, |raw| {
        if size == 0 || raw.len() % size != 0 {
            return Err(format!("{place}: {} bytes is not whole values", raw.len()));
        }
        reserve(&mut out, raw.len() / size, place)?;
        out.extend(raw.chunks_exact(size).map(|v| match &kind {
            Scalar::Bool { truth, .. } => v == truth.as_slice(),
            _ => v.iter().any(|b| *b != 0),
        }));
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32-bit keys tell the same values apart as 64-bit keys: -0.0 is 0.0,
    /// NaN is no value, every other float32 and int32 its own.
    #[test]
    fn key32_counts_as_key_does() {
        let floats = [0.0f32, -0.0, 1.5, -1.5, f32::NAN, f32::INFINITY, 1e-45, 1.5];
        let f = Scalar::Float {
            size: 4,
            big: false,
        };
        let ints = [0i32, -1, 1, i32::MIN, i32::MAX, -1];
        let i = Scalar::Int {
            size: 4,
            signed: true,
            big: false,
        };
        let elems: Vec<(&Scalar, [u8; 4])> = floats
            .iter()
            .map(|x| (&f, x.to_le_bytes()))
            .chain(ints.iter().map(|x| (&i, x.to_le_bytes())))
            .collect();
        for kind in [&f, &i] {
            let of = |k: &dyn Fn(&[u8]) -> Option<u64>| {
                let mut v: Vec<u64> = elems
                    .iter()
                    .filter(|(s, _)| std::ptr::eq(*s, kind))
                    .filter_map(|(_, b)| k(b))
                    .collect();
                crate::distinct::count(&mut v)
            };
            let wide = of(&|b| kind.key(b));
            let narrow = of(&|b| kind.key32(b).map(u64::from));
            assert_eq!(wide, narrow);
        }
        assert_eq!(f.key32(&(-0.0f32).to_le_bytes()), Some(0));
        assert_eq!(f.key32(&f32::NAN.to_le_bytes()), None);
        for big in [false, true] {
            let f = Scalar::Float { size: 4, big };
            let raw: Vec<u8> = floats
                .iter()
                .chain(&[-f32::NAN, f32::NEG_INFINITY, -1e-45])
                .flat_map(|x| {
                    if big {
                        x.to_be_bytes()
                    } else {
                        x.to_le_bytes()
                    }
                })
                .collect();
            let one_by_one: Vec<u32> = raw.chunks_exact(4).filter_map(|v| f.key32(v)).collect();
            let mut at_once = Vec::new();
            f.extend_keys32(&raw, &mut at_once);
            assert_eq!(at_once, one_by_one, "big-endian {big}");
        }
        for signed in [true, false] {
            let int = Scalar::Int {
                size: 4,
                signed,
                big: false,
            };
            let raw: Vec<u8> = ints.iter().flat_map(|x| x.to_le_bytes()).collect();
            let one_by_one: Vec<u32> = raw.chunks_exact(4).filter_map(|v| int.key32(v)).collect();
            let mut at_once = Vec::new();
            int.extend_keys32(&raw, &mut at_once);
            assert_eq!(at_once, one_by_one, "int32, signed {signed}");
        }
    }

    /// The one-pass paths give what the value-by-value path gives, in
    /// the narrowest width that holds the type.
    #[test]
    fn codes_decode_as_scalars_do() {
        let raw: Vec<u8> = vec![0x00, 0x7f, 0x80, 0xff, 0x01, 0xfe, 0x12, 0x34];
        let slow = |size: usize, signed: bool, big: bool| -> Vec<i32> {
            raw.chunks_exact(size)
                .map(|v| i32::try_from(Scalar::int(v, signed, big)).expect("fits"))
                .collect()
        };
        for (signed, big) in [(false, false), (true, false), (true, true)] {
            let size = if signed { 2 } else { 1 };
            let mut out = Vec::new();
            push_codes16(&raw, signed, big, &mut out);
            let wide: Vec<i32> = out.into_iter().map(i32::from).collect();
            assert_eq!(
                wide,
                slow(size, signed, big),
                "i16: size {size} signed {signed}"
            );
        }
        for (size, signed, big) in [
            (2, false, false),
            (2, false, true),
            (4, true, false),
            (4, true, true),
        ] {
            let mut out = Vec::new();
            push_codes32(&raw, size, signed, big, &mut out).expect("fits");
            assert_eq!(
                out,
                slow(size, signed, big),
                "i32: size {size} signed {signed} big {big}"
            );
        }
        let too_big = 0x8000_0000u32.to_le_bytes();
        assert!(push_codes32(&too_big, 4, false, false, &mut Vec::new()).is_err());
        let max = u64::MAX.to_le_bytes();
        assert!(push_codes32(&max, 8, false, false, &mut Vec::new()).is_err());
    }
}
