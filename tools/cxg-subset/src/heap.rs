//! Variable-length strings looked up in the source's global heap directly,
//! a few heap collections held at a time. Kept rows are read in order, and a
//! writer fills collections in order, so each collection is read once.
//! hdf5-reader keeps every collection it has parsed for as long as the file
//! is open (up to 64 MB of string bytes, and its bookkeeping on top): for
//! the names of a million cells that was 44 MB held while obs was subset,
//! a third of cxg-subset's peak memory on the bench file.
//!
//! A collection (HDF5 format, "Global Heap"): `GCOL`, version 1, three
//! reserved bytes, its size in bytes (a length); then objects, each its
//! index (u16), reference count (u16), four reserved bytes, its size (a
//! length) and its bytes padded to a multiple of eight; index 0 is the
//! free space that ends the list. A reference to an object, as a dataset
//! of variable-length strings stores it: the number of bytes (u32), the
//! collection's address (an offset) and the object's index (u32).

use crate::h5::R;
use hdf5_reader::superblock::Superblock;
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where the source's heap is, as the thread subsetting it set it.
#[derive(Clone)]
struct Source {
    path: PathBuf,
    base: u64,
    offset_size: u8,
    length_size: u8,
}

thread_local! {
    static SOURCE: RefCell<Option<Source>> = const { RefCell::new(None) };
}

/// While alive, [`Heap::of_source`] reads the heap of the file at `path`.
pub(crate) struct SourceHeap;

impl SourceHeap {
    pub(crate) fn set(path: &Path, sb: &Superblock) -> SourceHeap {
        let s = Source {
            path: path.to_path_buf(),
            base: sb.base_address,
            offset_size: sb.offset_size,
            length_size: sb.length_size,
        };
        SOURCE.with(|c| *c.borrow_mut() = Some(s));
        SourceHeap
    }
}

impl Drop for SourceHeap {
    fn drop(&mut self) {
        SOURCE.with(|c| *c.borrow_mut() = None);
    }
}

/// The most collections held, the last used first: references go back to
/// an older collection when libhdf5 put a short string there (it had room)
/// and a longer one in a new collection.
const HELD: usize = 4;

/// The most bytes of collections held beyond the one in use: libhdf5's
/// of 4 to 64 kB are held, rust-hdf5's of up to 65,535 strings (a few MB
/// of names, read in order) are not, so memory stays what one collection
/// takes. (Large collections that references go back to are held within
/// [`BACK_BYTES`].)
const HELD_BYTES: usize = 1 << 20;

/// The most bytes of collections held beside the one in use that
/// references have gone back to after they were let go (hdf5-reader's
/// bound): references that alternate between large collections read each
/// twice, not at every switch. Reading in order holds none of these.
const BACK_BYTES: usize = 64 << 20;

/// Collections let go that are remembered, to tell one gone back to.
const LET_GO: usize = 8;

/// A file's global heap, a few collections at a time.
pub(crate) struct Heap {
    file: File,
    len: u64,
    base: u64,
    offset_size: usize,
    length_size: usize,
    /// The collections held, the last used first.
    held: Vec<Collection>,
    /// Collections read from the file.
    loads: usize,
    /// The addresses of the last collections let go.
    let_go: Vec<u64>,
}

/// A collection: its address, bytes and objects (index, start and length
/// in `bytes`, by index).
struct Collection {
    at: u64,
    bytes: Vec<u8>,
    objects: Vec<(u16, usize, usize)>,
    /// References went back to it after it was let go.
    back: bool,
}

impl Heap {
    /// The heap of the source this thread is subsetting.
    pub(crate) fn of_source(place: &str) -> R<Heap> {
        let s = SOURCE.with(|c| c.borrow().clone());
        let s = s.ok_or_else(|| format!("{place}: no source file to read strings from"))?;
        Heap::open(&s.path, s.base, s.offset_size, s.length_size, place)
    }

    /// The heap of the file at `path`, whose superblock is `sb`.
    pub(crate) fn of_file(path: &Path, sb: &Superblock, place: &str) -> R<Heap> {
        Heap::open(path, sb.base_address, sb.offset_size, sb.length_size, place)
    }

    pub(crate) fn open(
        path: &Path,
        base: u64,
        offset_size: u8,
        length_size: u8,
        place: &str,
    ) -> R<Heap> {
        let file = File::open(path).map_err(|e| format!("{place}: {e}"))?;
        let len = file.metadata().map_err(|e| format!("{place}: {e}"))?.len();
        let sizes = [2, 4, 8];
        if !sizes.contains(&offset_size) || !sizes.contains(&length_size) {
            return Err(format!(
                "{place}: offsets of {offset_size} and lengths of {length_size} bytes"
            ));
        }
        Ok(Heap {
            file,
            len,
            base,
            offset_size: offset_size as usize,
            length_size: length_size as usize,
            held: Vec::new(),
            loads: 0,
            let_go: Vec::new(),
        })
    }

    /// The bytes a reference points to (none for a reference of length
    /// 0): exactly one whole object, or an error where libhdf5 has one.
    pub(crate) fn resolve(&mut self, reference: &[u8], place: &str) -> R<&[u8]> {
        let short = || format!("{place}: a string reference of {} bytes", reference.len());
        let count = read_uint(reference, 0, 4).ok_or_else(short)? as usize;
        let address = read_uint(reference, 4, self.offset_size).ok_or_else(short)?;
        let index = read_uint(reference, 4 + self.offset_size, 4).ok_or_else(short)?;
        let undefined = self.offset_size == 8 && address == u64::MAX
            || self.offset_size < 8 && address == (1u64 << (8 * self.offset_size)) - 1;
        // an empty string; one of some bytes is an object, as libhdf5 reads it
        if count == 0 {
            return Ok(&[]);
        }
        if undefined {
            return Err(format!(
                "{place}: a string of {count} bytes at an undefined address"
            ));
        }
        if index == 0 {
            return Err(format!(
                "{place}: a string of {count} bytes in heap object 0 (free space) at {address:#x}"
            ));
        }
        let index = u16::try_from(index)
            .map_err(|_| format!("{place}: string heap object index {index} out of range"))?;
        let c = self.collection(address, place)?;
        let found = (c.objects.binary_search_by_key(&index, |o| o.0))
            .ok()
            .map(|i| &c.objects[i]);
        let &(_, start, len) = found.ok_or_else(|| {
            format!("{place}: no string heap object {index} at address {address:#x}")
        })?;
        if count != len {
            return Err(format!(
                "{place}: string heap object {index} at {address:#x} has {len} bytes, \
                 not the {count} bytes of its reference"
            ));
        }
        Ok(&c.bytes[start..start + count])
    }

    /// The collection at `address`, held first (read if not held).
    fn collection(&mut self, address: u64, place: &str) -> R<&Collection> {
        if let Some(i) = self.held.iter().position(|c| c.at == address) {
            if i > 0 {
                let c = self.held.remove(i);
                self.held.insert(0, c);
            }
            return Ok(&self.held[0]);
        }
        let spare = self.make_room();
        self.loads += 1;
        let mut c = self.load(address, spare, place)?;
        c.back = self.let_go.contains(&address);
        self.held.insert(0, c);
        Ok(&self.held[0])
    }

    /// Let go of the collections that do not fit beside a new one: at most
    /// [`HELD`] - 1 stay, those gone back to within [`BACK_BYTES`], the
    /// others within [`HELD_BYTES`]. The buffer of one let go is returned
    /// to read into (a large collection read again is not allocated again).
    fn make_room(&mut self) -> Vec<u8> {
        let (mut back, mut other) = (0, 0);
        let mut spare = Vec::new();
        for c in std::mem::take(&mut self.held) {
            let (used, limit) = match c.back {
                true => (&mut back, BACK_BYTES),
                false => (&mut other, HELD_BYTES),
            };
            if self.held.len() < HELD - 1 && *used + c.bytes.len() <= limit {
                *used += c.bytes.len();
                self.held.push(c);
                continue;
            }
            if self.let_go.len() == LET_GO {
                self.let_go.remove(0);
            }
            self.let_go.push(c.at);
            spare = c.bytes;
        }
        spare
    }

    /// Read the collection at `address` (into `bytes`) and list its objects.
    fn load(&self, address: u64, mut bytes: Vec<u8>, place: &str) -> R<Collection> {
        let bad = |what: &str| format!("{place}: string heap at {address:#x}: {what}");
        let at = self
            .base
            .checked_add(address)
            .ok_or_else(|| bad("address out of range"))?;
        let head_len = 8 + self.length_size;
        let mut head = vec![0u8; head_len];
        self.read(at, &mut head).map_err(|e| bad(&e))?;
        if &head[..4] != b"GCOL" {
            return Err(bad("no GCOL signature"));
        }
        if head[4] != 1 {
            return Err(bad(&format!("version {}", head[4])));
        }
        // as large as the file holds: libhdf5 makes collections of 4 to 64 kB
        // (one string larger gets one of its own), rust-hdf5 puts up to
        // 65,535 strings in one, whatever their size
        let size = read_uint(&head, 8, self.length_size).unwrap_or(0);
        if size < head_len as u64 || size > self.len.saturating_sub(at) {
            return Err(bad(&format!("a collection of {size} bytes")));
        }
        bytes.resize(size as usize, 0);
        self.read(at, &mut bytes).map_err(|e| bad(&e))?;
        let objects = objects(&bytes, head_len, self.length_size).map_err(|e| bad(&e))?;
        Ok(Collection {
            at: address,
            bytes,
            objects,
            back: false,
        })
    }

    fn read(&self, at: u64, buf: &mut [u8]) -> Result<(), String> {
        self.file.read_exact_at(buf, at).map_err(|e| e.to_string())
    }
}

/// The objects of a collection: index, start and length of their bytes,
/// by index.
fn objects(
    c: &[u8],
    mut pos: usize,
    length_size: usize,
) -> Result<Vec<(u16, usize, usize)>, String> {
    let mut out = Vec::new();
    while pos + 8 + length_size <= c.len() {
        let index = read_uint(c, pos, 2).unwrap_or(0) as u16;
        if index == 0 {
            break;
        }
        let size = read_uint(c, pos + 8, length_size).unwrap_or(u64::MAX);
        let start = pos + 8 + length_size;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|e| *e <= c.len())
            .ok_or_else(|| format!("object {index} of {size} bytes runs past the collection"))?;
        out.push((index, start, end - start));
        pos = end.saturating_add(end.wrapping_neg() & 7).min(c.len());
    }
    // by index, to be found by it (writers number them in order already)
    out.sort_by_key(|o| o.0);
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("object {} twice", w[0].0));
    }
    Ok(out)
}

/// A little-endian unsigned number of `n` bytes at `at`.
fn read_uint(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |v, x| (v << 8) | u64::from(*x)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::{objects, Heap};
    use std::path::PathBuf;

    /// A file of heap bytes in a folder of its own, removed when dropped.
    pub(crate) struct HeapFile(PathBuf);

    impl HeapFile {
        pub(crate) fn new(tag: &str, bytes: &[u8]) -> HeapFile {
            let dir = std::env::temp_dir().join(format!("cxg-subset-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let f = HeapFile(dir);
            std::fs::write(f.path(), bytes).unwrap();
            f
        }

        fn path(&self) -> PathBuf {
            self.0.join("heap.bin")
        }

        /// The file's heap, its superblock at 0, of 8-byte offsets and lengths.
        pub(crate) fn heap(&self) -> Heap {
            Heap::open(&self.path(), 0, 8, 8, "obs/_index").unwrap()
        }
    }

    impl Drop for HeapFile {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    /// A collection of two objects (5 and 8 bytes, padded), then free space.
    fn collection() -> Vec<u8> {
        collection_of(&[(1, b"hello"), (2, b"cell-001")])
    }

    /// A collection of 64 bytes of these objects, then free space.
    pub(crate) fn collection_of(objects: &[(u16, &[u8])]) -> Vec<u8> {
        let mut c = b"GCOL\x01\0\0\0".to_vec();
        c.extend(64u64.to_le_bytes());
        for &(i, s) in objects {
            c.extend(i.to_le_bytes());
            c.extend([1, 0, 0, 0, 0, 0]);
            c.extend((s.len() as u64).to_le_bytes());
            c.extend(s);
            c.resize(c.len().next_multiple_of(8), 0);
        }
        c.resize(64, 0);
        c
    }

    /// A reference as a dataset of variable-length strings stores it.
    pub(crate) fn reference(count: u32, address: u64, index: u32) -> Vec<u8> {
        [
            &count.to_le_bytes()[..],
            &address.to_le_bytes(),
            &index.to_le_bytes(),
        ]
        .concat()
    }

    #[test]
    fn objects_are_found_by_index_and_damage_is_named() {
        // eight bytes before the collection: at address 8
        let f = HeapFile::new("heap", &[vec![0u8; 8], collection()].concat());
        let mut h = f.heap();
        assert_eq!(h.resolve(&reference(8, 8, 2), "p").unwrap(), b"cell-001");
        assert_eq!(h.resolve(&reference(5, 8, 1), "p").unwrap(), b"hello");
        assert_eq!(h.resolve(&reference(0, u64::MAX, 0), "p").unwrap(), b"");
        for (r, want) in [
            (reference(9, 8, 2), "not the 9 bytes of its reference"),
            (reference(1, 8, 3), "no string heap object 3"),
            (reference(1, 0, 1), "no GCOL signature"),
            (reference(1, 1 << 40, 1), "string heap at"),
            (reference(1, 8, 70000), "out of range"),
            (
                reference(1, 8, 1)[..10].to_vec(),
                "a string reference of 10 bytes",
            ),
        ] {
            let e = h.resolve(&r, "obs/_index").unwrap_err();
            assert!(e.starts_with("obs/_index: ") && e.contains(want), "{e}");
        }
        // a collection larger than the file, an object past its end
        let mut c = collection();
        c[8] = 200;
        let f = HeapFile::new("heap-size", &c);
        let mut h = f.heap();
        let e = h.resolve(&reference(1, 0, 1), "x").unwrap_err();
        assert!(e.contains("a collection of 200 bytes"), "{e}");
        let mut c = collection();
        c[16 + 8] = 250;
        assert!(objects(&c, 16, 8).unwrap_err().contains("runs past"));
    }

    /// References that go back and forth between two collections (libhdf5
    /// puts a short string in an older collection that still has room, a
    /// longer one in a new one) read each collection once: reading it again
    /// at each switch took 19 s for 20,000 names in two 24 MB collections.
    #[test]
    fn collections_gone_back_to_are_not_read_again() {
        let f = HeapFile::new("heap-back", &[collection(), collection()].concat());
        let mut h = f.heap();
        for _ in 0..10 {
            assert_eq!(h.resolve(&reference(5, 0, 1), "p").unwrap(), b"hello");
            assert_eq!(h.resolve(&reference(8, 64, 2), "p").unwrap(), b"cell-001");
        }
        assert_eq!(h.loads, 2);
    }

    /// References that alternate between two collections of 2 MB (more
    /// than HELD_BYTES) read each twice, not at every switch (20,000 names
    /// between two 24 MB collections took 31 s).
    #[test]
    fn large_collections_gone_back_to_are_held() {
        let big = |fill: u8| {
            let data = vec![fill; 2 << 20];
            let mut c = b"GCOL\x01\0\0\0".to_vec();
            c.extend((16u64 + 16 + data.len() as u64).to_le_bytes());
            c.extend(1u16.to_le_bytes());
            c.extend([1, 0, 0, 0, 0, 0]);
            c.extend((data.len() as u64).to_le_bytes());
            c.extend(&data);
            c
        };
        let (a, b) = (big(b'a'), big(b'b'));
        let at_b = a.len() as u64;
        let f = HeapFile::new("heap-large", &[a, b].concat());
        let mut h = f.heap();
        let n = 2 << 20;
        for _ in 0..10 {
            assert!(h
                .resolve(&reference(n, 0, 1), "p")
                .unwrap()
                .iter()
                .all(|x| *x == b'a'));
            assert!(h
                .resolve(&reference(n, at_b, 1), "p")
                .unwrap()
                .iter()
                .all(|x| *x == b'b'));
        }
        assert_eq!(h.loads, 4);
    }

    /// Objects are found by index wherever they are in the collection; an
    /// index twice is refused (libhdf5 never writes one): a collection of a
    /// million objects of one index before the one looked up was scanned
    /// whole for each string, 25 s for 20,000 names.
    #[test]
    fn objects_are_found_in_any_order_and_an_index_twice_is_refused() {
        let c = collection_of(&[(2, b"cell-001"), (1, b"hello")]);
        let f = HeapFile::new("heap-order", &c);
        let mut h = f.heap();
        assert_eq!(h.resolve(&reference(5, 0, 1), "p").unwrap(), b"hello");
        assert_eq!(h.resolve(&reference(8, 0, 2), "p").unwrap(), b"cell-001");
        let c = collection_of(&[(1, b"hello"), (1, b"cell-001")]);
        let e = objects(&c, 16, 8).unwrap_err();
        assert!(e.contains("object 1 twice"), "{e}");
    }

    /// A collection may be as large as the file holds: rust-hdf5 (the
    /// writer of the scratch file and of the output) packs up to 65,535
    /// strings into one collection, and 66,000 strings of 17 kB in obs made
    /// one of 1.1 GB, refused at 1 GB: an h5py file that was not subset.
    /// (A sparse file: its gigabyte of zeros takes no disk.)
    #[test]
    fn a_collection_over_a_gigabyte_is_read() {
        let size = (1u64 << 30) + 4096;
        let mut c = collection_of(&[(1, b"hello")]);
        c[8..16].copy_from_slice(&size.to_le_bytes());
        let f = HeapFile::new("heap-big", &c);
        std::fs::OpenOptions::new()
            .write(true)
            .open(f.path())
            .unwrap()
            .set_len(size)
            .unwrap();
        let mut h = f.heap();
        assert_eq!(h.resolve(&reference(5, 0, 1), "p").unwrap(), b"hello");
    }

    /// A reference of a non-zero length is to exactly one whole object, as
    /// libhdf5 (h5py, anndata) requires: not the free space (index 0), not
    /// an undefined address, not the start of a longer object — each read
    /// as "" or a prefix before, a string silently lost.
    #[test]
    fn a_reference_libhdf5_refuses_is_an_error() {
        let f = HeapFile::new("heap-ref", &collection());
        let mut h = f.heap();
        assert_eq!(h.resolve(&reference(0, u64::MAX, 0), "p").unwrap(), b"");
        assert_eq!(h.resolve(&reference(0, 0, 2), "p").unwrap(), b"");
        for (r, want) in [
            (reference(5, 0, 0), "object 0"),
            (reference(5, u64::MAX, 1), "undefined address"),
            (reference(5, u64::MAX, 0), "undefined address"),
            (reference(3, 0, 1), "not the 3 bytes of its reference"),
            (reference(9, 0, 2), "not the 9 bytes of its reference"),
        ] {
            let e = h.resolve(&r, "obs/_index").unwrap_err();
            assert!(e.starts_with("obs/_index: ") && e.contains(want), "{e}");
        }
    }
}
