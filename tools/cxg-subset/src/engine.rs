//! The subset of one H5AD file: every element indexed by cells (`obs`,
//! `X`, `layers`, `obsm`, `obsp`, `raw/X`) keeps the cells of the mask,
//! everything else is copied as it is, and `uns` gets our one key
//! (`cxg_subset`: the filter, the tool version, the source's SHA-256).
//! The result reads in anndata as `read_h5ad(src)[mask].copy()`.

use crate::copy;
use crate::dense;
use crate::frame::{self, Colors, How};
use crate::h5::{self, At, R};
use crate::rows::Rows;
use crate::sparse::{self, Cells};
use crate::stored::Stored;
use cxg_h5write::{self as w, H5File, H5Group};
use hdf5_reader::group::Group;
use std::path::Path;

/// The `uns` key this tool adds.
pub const UNS_KEY: &str = "cxg_subset";

/// What the added `uns` key records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stamp {
    /// The filter, as given on the command line.
    pub filter: String,
    /// `cxg-subset <version>`.
    pub tool: String,
    /// SHA-256 of the source file.
    pub source_sha256: String,
}

/// The number of cells of an H5AD file (the length of its obs index).
pub fn n_cells(src: &Path) -> Result<u64, String> {
    let file = h5::open(src)?;
    let root = file.root_group().at("not a readable HDF5 file")?;
    cells_of(&root, src)
}

/// The number of cells, checked against what the file could hold: a
/// damaged or hostile header claiming more is refused before anything
/// per cell is allocated.
fn cells_of(root: &Group, src: &Path) -> R<u64> {
    let obs = root
        .group("obs")
        .map_err(|_| "no 'obs' group: not an AnnData file".to_string())?;
    let index = h5::group_str(&obs, "_index").unwrap_or_else(|| "_index".into());
    let d = obs.dataset(&index).at(&format!("obs/{index}"))?;
    let n = d.shape().first().copied().unwrap_or(0);
    let len = std::fs::metadata(src).map(|m| m.len()).unwrap_or(0);
    if n > h5::budget(len) as u64 {
        return Err(format!(
            "obs/{index} claims {n} cells, more than a file of {len} bytes can hold"
        ));
    }
    Ok(n)
}

/// How much is read at a time: stored values of a sparse matrix, and bytes
/// of a dense array (above which it is read a window of rows at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub window_values: i64,
    pub block_bytes: usize,
    /// Whether a sparse matrix whose kept values touch most of its chunks
    /// is read chunk by chunk on threads of its own (off: in windows).
    pub stream_chunks: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            window_values: 1 << 20,
            block_bytes: 16 << 20,
            stream_chunks: true,
        }
    }
}

thread_local! {
    static LIMITS: std::cell::Cell<Limits> = std::cell::Cell::new(Limits::default());
}

/// The limits of the subset being written on this thread.
pub(crate) fn limits() -> Limits {
    LIMITS.with(|l| l.get())
}

/// [`write`] with other limits (tests: tiny windows, so that every fixture
/// goes through the streamed paths).
pub fn write_with(
    src: &Path,
    mask: &[bool],
    dst: &Path,
    stamp: &Stamp,
    limits: Limits,
) -> Result<(), String> {
    with_limits(limits, || write(src, mask, dst, stamp))
}

/// `f` run with `limits` on this thread.
pub(crate) fn with_limits<T>(limits: Limits, f: impl FnOnce() -> T) -> T {
    let before = LIMITS.with(|l| l.replace(limits));
    let r = f();
    LIMITS.with(|l| l.set(before));
    r
}

/// Write the cells of `src` that `mask` keeps to the new file `dst`.
pub fn write(src: &Path, mask: &[bool], dst: &Path, stamp: &Stamp) -> Result<(), String> {
    write_stamped(src, mask, dst, || Ok(stamp.clone()))
}

/// [`write`], the stamp asked for only when `uns` is written, last (the
/// source's SHA-256 is computed meanwhile).
pub(crate) fn write_stamped(
    src: &Path,
    mask: &[bool],
    dst: &Path,
    stamp: impl FnOnce() -> R<Stamp>,
) -> Result<(), String> {
    let file = h5::open(src)?;
    let root = file.root_group().at("not a readable HDF5 file")?;
    let n = cells_of(&root, src)?;
    if n != mask.len() as u64 {
        return Err(format!("the file has {n} cells, the mask {}", mask.len()));
    }
    let (groups, datasets) = root.member_names().at("/")?;
    if !groups.iter().chain(&datasets).any(|m| m == "X") {
        return Err("no 'X': not a complete AnnData file".into());
    }
    let rows = Rows::new(mask);
    let _source = copy::Source::open(src, file.superblock());
    let out = H5File::create(dst).at(&dst.display().to_string())?;
    let oroot = out.root_group();
    copy::group_attrs(&root, &oroot, &[], "/")?;
    let limits = limits();
    let scratch = Scratch(dst.with_extension("frames.h5"));
    std::thread::scope(|s| {
        // obs and var subset into a file of their own on another thread
        // while X is (they cost a quarter of the time, mostly inflating a
        // million rows a column), then copied in: only their kept rows
        let frames = s.spawn(|| with_limits(limits, || frames(src, &scratch.0, &rows)));
        let r = cells(&root, &oroot, &groups, &datasets, &rows);
        let colors = frames
            .join()
            .unwrap_or_else(|_| Err("the HDF5 library failed on obs".into()));
        r?;
        let colors = colors?;
        copy_frames(&scratch.0, &oroot)?;
        uns(root.group("uns").ok().as_ref(), &oroot, &colors, &stamp()?)
    })?;
    drop(scratch);
    out.close().at(&dst.display().to_string())
}

/// A file removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// obs and var of the scratch file, copied into the output as they are
/// stored (compressed chunks are not compressed again).
fn copy_frames(scratch: &Path, oroot: &H5Group) -> R<()> {
    let file = h5::open(scratch)?;
    let root = file.root_group().at("obs")?;
    let stored = Stored::open(scratch, file.superblock(), "obs")?;
    for name in ["obs", "var"] {
        if let Ok(g) = root.group(name) {
            let out = oroot.create_group(name).at(name)?;
            copy::group_from(&g, &out, name, Some(&stored))?;
        }
    }
    Ok(())
}

/// Everything but obs, var and uns.
fn cells(
    root: &Group,
    oroot: &H5Group,
    groups: &[String],
    datasets: &[String],
    rows: &Rows,
) -> R<()> {
    for name in groups {
        let g = root.group(name).at(name)?;
        match name.as_str() {
            "obs" | "var" | "uns" => {}
            "X" => element(&g, oroot, "X", Cells::Rows, rows, "X")?,
            "layers" | "obsm" => dict(&g, oroot, name, Cells::Rows, rows)?,
            "obsp" => dict(&g, oroot, name, Cells::Both, rows)?,
            "raw" => raw(&g, oroot, rows)?,
            _ => copy::group(&g, &oroot.create_group(name).at(name)?, name)?,
        }
    }
    for name in datasets {
        let d = root.dataset(name).at(name)?;
        match name.as_str() {
            "X" => dense::rows(&d, oroot, "X", rows, false, "X")?,
            _ => copy::dataset(&d, oroot, name, name)?,
        }
    }
    Ok(())
}

/// obs and var subset into the new file `scratch`, read through a file of
/// their own: what the reader keeps of their columns (the obs names above
/// all) is freed once they are written.
fn frames(src: &Path, scratch: &Path, rows: &Rows) -> R<Colors> {
    let file = h5::open(src)?;
    let root = file.root_group().at("not a readable HDF5 file")?;
    let _source = copy::Source::open(src, file.superblock());
    let out = H5File::create(scratch).at("obs")?;
    let oroot = out.root_group();
    let mut colors = Colors::new();
    let obs = root.group("obs").at("obs")?;
    let how = How {
        rows: Some(rows),
        drop_unused: true,
    };
    frame::frame(&obs, &oroot, "obs", &how, &mut colors, "obs")?;
    if let Ok(var) = root.group("var") {
        let how = How {
            rows: None,
            drop_unused: true,
        };
        frame::frame(&var, &oroot, "var", &how, &mut colors, "var")?;
    }
    out.close().at("obs")?;
    Ok(colors)
}

/// One element with cells on `cells`: a sparse matrix, a data frame, a
/// dict of them, or (as a dataset) an array.
fn element(g: &Group, dst: &H5Group, name: &str, cells: Cells, rows: &Rows, place: &str) -> R<()> {
    match h5::group_str(g, "encoding-type").as_deref() {
        Some("csr_matrix") => sparse::matrix(g, dst, name, true, cells, rows, place),
        Some("csc_matrix") => sparse::matrix(g, dst, name, false, cells, rows, place),
        Some("dataframe") if cells == Cells::Rows => {
            let how = How {
                rows: Some(rows),
                drop_unused: false,
            };
            frame::frame(g, dst, name, &how, &mut Colors::new(), place)
        }
        Some("dict") => {
            let out = dst.create_group(name).at(place)?;
            copy::group_attrs(g, &out, &[], place)?;
            members(g, &out, cells, rows, place)
        }
        other => Err(format!(
            "{place}: an element of encoding {} indexed by cells is not supported",
            other.unwrap_or("(none)")
        )),
    }
}

/// A group of elements (layers, obsm, obsp).
fn dict(g: &Group, dst: &H5Group, name: &str, cells: Cells, rows: &Rows) -> R<()> {
    let out = dst.create_group(name).at(name)?;
    copy::group_attrs(g, &out, &[], name)?;
    members(g, &out, cells, rows, name)
}

fn members(g: &Group, out: &H5Group, cells: Cells, rows: &Rows, place: &str) -> R<()> {
    let (groups, datasets) = g.member_names().at(place)?;
    for m in groups {
        let here = format!("{place}/{m}");
        element(&g.group(&m).at(&here)?, out, &m, cells, rows, &here)?;
    }
    for m in datasets {
        let here = format!("{place}/{m}");
        let d = g.dataset(&m).at(&here)?;
        dense::rows(&d, out, &m, rows, cells == Cells::Both, &here)?;
    }
    Ok(())
}

/// `raw`: its X keeps the cells, its var and varm are kept.
fn raw(g: &Group, dst: &H5Group, rows: &Rows) -> R<()> {
    let out = dst.create_group("raw").at("raw")?;
    copy::group_attrs(g, &out, &[], "raw")?;
    let (groups, datasets) = g.member_names().at("raw")?;
    for m in groups {
        let here = format!("raw/{m}");
        let sub = g.group(&m).at(&here)?;
        match m.as_str() {
            "X" => element(&sub, &out, "X", Cells::Rows, rows, &here)?,
            _ => copy::group(&sub, &out.create_group(&m).at(&here)?, &here)?,
        }
    }
    for m in datasets {
        let here = format!("raw/{m}");
        let d = g.dataset(&m).at(&here)?;
        match m.as_str() {
            "X" => dense::rows(&d, &out, "X", rows, false, &here)?,
            _ => copy::dataset(&d, &out, &m, &here)?,
        }
    }
    Ok(())
}

/// `uns` as it is, but colors of obs and var categoricals follow their
/// categories (as anndata: subset, or dropped when their count was not the
/// number of categories), and our key added.
fn uns(src: Option<&Group>, dst: &H5Group, colors: &Colors, stamp: &Stamp) -> R<()> {
    let out = dst.create_group("uns").at("uns")?;
    match src {
        Some(g) => {
            copy::group_attrs(g, &out, &[], "uns")?;
            let (groups, datasets) = g.member_names().at("uns")?;
            for m in groups.iter().filter(|m| *m != UNS_KEY) {
                let here = format!("uns/{m}");
                copy::group(
                    &g.group(m).at(&here)?,
                    &out.create_group(m).at(&here)?,
                    &here,
                )?;
            }
            for m in datasets.iter().filter(|m| *m != UNS_KEY) {
                let here = format!("uns/{m}");
                let d = g.dataset(m).at(&here)?;
                let kept = m.strip_suffix("_colors").and_then(|c| colors.get(c));
                match (kept, d.shape()) {
                    (Some(k), [len]) if *len as usize == k.n_before => {
                        frame::pick(&d, &out, m, &k.positions, &here)?
                    }
                    (Some(_), [_]) => {} // anndata drops colors that do not match
                    _ => copy::dataset(&d, &out, m, &here)?,
                }
            }
        }
        None => w::group_encoding(&out, "dict", "0.1.0").at("uns")?,
    }
    let ours = out.create_group(UNS_KEY).at(UNS_KEY)?;
    w::group_encoding(&ours, "dict", "0.1.0").at(UNS_KEY)?;
    for (k, v) in [
        ("filter", &stamp.filter),
        ("tool", &stamp.tool),
        ("source_sha256", &stamp.source_sha256),
    ] {
        let d = w::write_scalar_string(&ours, k, v).at(UNS_KEY)?;
        w::dataset_encoding(&d, "string", "0.2.0").at(UNS_KEY)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/subset")
            .join(name)
    }

    fn strings(f: &hdf5_reader::Hdf5File, path: &str) -> Vec<String> {
        f.dataset(path).unwrap().read_strings().unwrap()
    }

    /// Each fixture with a mask given directly: the kept cells' names, the
    /// new shape of X, the categories left, and our uns key.
    #[test]
    fn masks_keep_their_cells() {
        let dir = std::env::temp_dir().join(format!("cxg-subset-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stamp = Stamp {
            filter: "--test".into(),
            tool: "cxg-subset test".into(),
            source_sha256: "ab".into(),
        };
        for (name, n) in [("csr.h5ad", 60u64), ("csc.h5ad", 40), ("dense.h5ad", 30)] {
            let src = fixture(name);
            assert_eq!(n_cells(&src).unwrap(), n);
            let names = strings(&h5::open(&src).unwrap(), "obs/_index");
            for every in [1usize, 3, 7] {
                let mask: Vec<bool> = (0..n as usize).map(|i| i % every == 0).collect();
                let dst = dir.join(format!("{name}.{every}.h5ad"));
                write(&src, &mask, &dst, &stamp).unwrap_or_else(|e| panic!("{name} {every}: {e}"));
                let out = h5::open(&dst).unwrap();
                let want: Vec<String> = names.iter().step_by(every).cloned().collect();
                assert_eq!(strings(&out, "obs/_index"), want, "{name} {every}");
                let filter = out
                    .dataset("uns/cxg_subset/filter")
                    .unwrap()
                    .read_string()
                    .unwrap();
                assert_eq!(filter, "--test");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// obs is subset on a thread of its own: its error is the file's,
    /// named, and its scratch file is gone, as after a success.
    #[test]
    fn an_obs_error_is_the_files_and_leaves_no_scratch() {
        let dir = std::env::temp_dir().join(format!("cxg-subset-scratch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = fixture("../h5ad/anndata07_layout.h5ad");
        let n = n_cells(&bad).unwrap() as usize;
        let dst = dir.join("bad.h5ad");
        let e = write(&bad, &vec![true; n], &dst, &Stamp::default()).unwrap_err();
        assert!(e.starts_with("obs/__categories"), "{e}");
        let good = dir.join("good.h5ad");
        write(&fixture("csr.h5ad"), &[true; 60], &good, &Stamp::default()).unwrap();
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}"); // bad.h5ad (the caller removes it) and good.h5ad
        assert!(!dir.join("bad.frames.h5").exists() && !dir.join("good.frames.h5").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_mask_of_another_length_is_refused() {
        let dst = std::env::temp_dir().join(format!("cxg-subset-len-{}.h5ad", std::process::id()));
        let e = write(&fixture("csr.h5ad"), &[true; 3], &dst, &Stamp::default()).unwrap_err();
        assert_eq!(e, "the file has 60 cells, the mask 3");
        assert!(!dst.exists());
    }
}
