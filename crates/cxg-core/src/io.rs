//! Opening input (`FILE`, `-` or nothing = stdin) and writing output to
//! stdout or atomically to a file (temporary name, renamed on success).
//!
//! An output file is checked when it is opened — its folder must exist and
//! be writable, and it must not be a folder — so that a bad `-o` fails
//! before any input is read or request made; the file itself is created on
//! the first write. Temporary files are created exclusively (never through
//! something planted under a predictable name), registered, and removed on
//! failure, on a failed rename, and on SIGINT/SIGTERM/SIGHUP (see
//! [`install_signal_cleanup`]). A target that exists and is not a regular
//! file (a device, a FIFO, `/dev/stdout`) is written directly, as a shell
//! redirection would; a symlink is followed and its target replaced.

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An opened input and the name that messages use for it.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

impl Input {
    /// Open `path`; `None` or `-` means stdin.
    pub fn open(path: Option<&Path>) -> Result<Input> {
        match path {
            None => Ok(Self::stdin()),
            Some(p) if p.as_os_str() == "-" => Ok(Self::stdin()),
            Some(p) => {
                let name = format!("'{}'", p.display());
                if p.is_dir() {
                    return Err(Error::input(format!(
                        "cannot read {name}: it is a folder, not a file"
                    )));
                }
                let f =
                    File::open(p).map_err(|e| Error::input(format!("cannot open {name}: {e}")))?;
                Ok(Input {
                    name,
                    reader: Box::new(f),
                })
            }
        }
    }

    fn stdin() -> Input {
        Input {
            name: "stdin".into(),
            reader: if reopened_null(0) {
                Box::new(ClosedStdin)
            } else {
                Box::new(io::stdin())
            },
        }
    }
}

/// A stdin that was closed when the tool started: reading it is an error,
/// not an empty input.
struct ClosedStdin;

impl Read for ClosedStdin {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other(
            "stdin is closed: give a FILE, or pipe the input in",
        ))
    }
}

/// True when standard descriptor `fd` is `/dev/null` opened read-write:
/// what the Rust runtime puts in place of a descriptor that was closed when
/// the process started (a shell's `</dev/null` opens it for reading only;
/// `0<>/dev/null` is taken for a closed stdin too: see [`check_stdout`] for
/// why they cannot be told apart; stdout no longer uses this).
fn reopened_null(fd: u8) -> bool {
    let is_null = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|p| p == Path::new("/dev/null"));
    if !is_null {
        return false;
    }
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
    // O_ACCMODE == 3, O_RDWR == 2
    flags.is_some_and(|f| f & 3 == 2)
}

/// Temporary files this process created and has not yet renamed or removed.
static TEMPS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn temps() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Temporary folders this process created (staging folders renamed into
/// place when complete), removed with everything in them on a signal.
static TEMP_DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn temp_dirs() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    TEMP_DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Create the folder `dir` and register it for removal (with its contents)
/// on SIGINT, SIGTERM or SIGHUP, until [`forget_temp_dir`].
pub fn create_temp_dir(dir: &Path) -> std::io::Result<()> {
    let mut d = temp_dirs();
    std::fs::create_dir(dir)?;
    d.insert(dir.to_path_buf());
    Ok(())
}

/// The folder `dir` was renamed into place or removed: no longer temporary.
pub fn forget_temp_dir(dir: &Path) {
    temp_dirs().remove(dir);
}

/// On SIGINT, SIGTERM or SIGHUP: remove every temporary file this process
/// created and exit with 128 + the signal number (130, 143, 129), as shells
/// expect. Installed once by [`crate::cli::run_main`].
pub(crate) fn install_signal_cleanup() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Holding the registry lock while removing: a file being created
            // right now is either registered (and removed) or not yet made.
            let mut t = temps();
            for p in t.iter() {
                let _ = std::fs::remove_file(p);
            }
            t.clear();
            let mut d = temp_dirs();
            for p in d.iter() {
                // files may still be appearing in it from other threads
                for _ in 0..5 {
                    match std::fs::remove_dir_all(p) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => continue,
                        _ => break,
                    }
                }
            }
            d.clear();
            std::process::exit(128 + sig);
        }
    });
}

/// Create a temporary file beside `dest`, exclusively (O_EXCL, random
/// name), registered for removal on a signal.
fn create_temp(dest: &Path) -> Result<(File, PathBuf)> {
    let dir = parent_dir(dest);
    let fname = dest
        .file_name()
        .ok_or_else(|| Error::input(format!("'{}' is not a file name", dest.display())))?;
    // The final file gets the mode of the file it replaces, or 0666 less
    // the umask for a new one (tempfile's own 0600 would make a harvest in
    // a shared folder unreadable to everyone else).
    use std::os::unix::fs::PermissionsExt;
    let existing = std::fs::metadata(dest)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions().mode() & 0o7777);
    // Keep the temporary name within NAME_MAX (255 bytes): the prefix takes
    // at most 200 bytes of the final name.
    let name = fname.to_string_lossy();
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut reg = temps();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", &name[..cut]))
        .suffix(".tmp")
        .rand_bytes(8)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(|e| {
            Error::input(format!(
                "cannot create a file in '{}': {}",
                dir.display(),
                strip_path(e)
            ))
        })?;
    if let Some(mode) = existing {
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode));
    }
    let (file, path) = tmp.into_parts();
    let path = path
        .keep()
        .map_err(|e| Error::input(format!("cannot keep a temporary file: {e}")))?;
    reg.insert(path.clone());
    Ok((file, path))
}

/// tempfile's errors name its temporary path; keep the OS's words.
fn strip_path(e: io::Error) -> String {
    if let Some(code) = e.raw_os_error() {
        return io::Error::from_raw_os_error(code).to_string();
    }
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((words, _)) => words.to_string(),
        None => text,
    }
}

fn remove_temp(p: &Path) {
    let _ = std::fs::remove_file(p);
    temps().remove(p);
}

fn parent_dir(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file written under a temporary name in the destination's folder and
/// renamed into place by [`AtomicFile::commit`]. Dropped without commit, or
/// when the rename fails, the temporary file is removed, so a failed run
/// never leaves a truncated file.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    w: Option<BufWriter<File>>,
    sync: bool,
}

impl AtomicFile {
    /// A file flushed to disk (fsync) before the rename: for a tool's
    /// main output.
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        Self::create_with(dest, true)
    }

    /// Renamed into place without fsync: for the many small per-record
    /// files of `--out-dir` modes, where an fsync each costs more than the
    /// work (4,000 files: 2.6 s instead of 0.6 s). Still never seen half
    /// written by a reader or by make.
    pub fn create_unsynced(dest: &Path) -> Result<AtomicFile> {
        Self::create_with(dest, false)
    }

    fn create_with(dest: &Path, sync: bool) -> Result<AtomicFile> {
        let (f, tmp) = create_temp(dest)?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            w: Some(BufWriter::with_capacity(1 << 16, f)),
            sync,
        })
    }

    /// Flush and rename into place; on any failure the temporary file is
    /// removed.
    pub fn commit(mut self) -> Result<()> {
        let name = format!("'{}'", self.dest.display());
        let Some(w) = self.w.take() else {
            return Ok(());
        };
        let done = w
            .into_inner()
            .map_err(|e| Error::write(&name, e.into_error()))
            .and_then(|f| {
                if self.sync {
                    f.sync_all().map_err(|e| Error::write(&name, e))?;
                }
                Ok(())
            })
            .and_then(|()| {
                std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::write(&name, e))
            });
        match done {
            Ok(()) => {
                temps().remove(&self.tmp);
                Ok(())
            }
            Err(e) => {
                remove_temp(&self.tmp);
                Err(e)
            }
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.w {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.w {
            Some(w) => w.write_all(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.w {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.take().is_some() {
            remove_temp(&self.tmp);
        }
    }
}

/// Write `bytes` to `dest` atomically (one of many small files: no fsync).
pub fn write_file_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create_unsynced(dest)?;
    f.write_all(bytes)
        .map_err(|e| Error::write(&format!("'{}'", dest.display()), e))?;
    f.commit()
}

/// Create (or reuse) the folder `parent/name` for per-record files. An
/// existing entry must be a real folder: a symlink planted there (say to
/// `../outside/`) is refused, so nothing is written outside the output
/// folder through it.
pub fn create_subdir(parent: &Path, name: &str) -> Result<PathBuf> {
    let dir = parent.join(name);
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::input(format!(
            "'{}' is a symbolic link: refusing to write through it (files stay inside '{}')",
            dir.display(),
            parent.display()
        ))),
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(Error::input(format!(
            "'{}' exists and is not a folder",
            dir.display()
        ))),
        Err(_) => match std::fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => create_subdir(parent, name),
            Err(e) => Err(Error::input(format!(
                "cannot create '{}': {e}",
                dir.display()
            ))),
        },
    }
}

/// Free bytes for an unprivileged user on the filesystem that holds `p`
/// (or its nearest existing ancestor).
pub fn free_space(p: &Path) -> std::io::Result<u64> {
    let mut p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    loop {
        if p.exists() {
            let s = rustix::fs::statvfs(p).map_err(std::io::Error::from)?;
            return Ok(s.f_bavail.saturating_mul(s.f_frsize));
        }
        match p.parent() {
            Some(q) if !q.as_os_str().is_empty() => p = q,
            _ => p = Path::new("."),
        }
    }
}

/// Where an output path leads, decided before any work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A regular file (or a new one): written under a temporary name and
    /// renamed into place. For a symlink, this is the file it points to.
    Replace(PathBuf),
    /// Something that exists and is not a regular file (a device, a FIFO,
    /// a socket): opened and written directly.
    Direct(PathBuf),
    /// `/dev/stdout` (or `/dev/fd/1`, `/proc/self/fd/1`): this process's
    /// own stdout, as given (appending stays appending).
    Stdout,
    /// `/dev/stderr` (or `/dev/fd/2`, `/proc/self/fd/2`).
    Stderr,
}

/// Decide where `path` is written and check that it can be: the folder
/// exists and is writable (a temporary file is created there and removed
/// again), and the path is not a folder. Nothing is left behind.
pub fn plan_output(path: &Path) -> Result<Target> {
    let shown = format!("'{}'", path.display());
    let p = path.to_string_lossy();
    if matches!(&*p, "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1") {
        return Ok(Target::Stdout);
    }
    if matches!(&*p, "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2") {
        return Ok(Target::Stderr);
    }
    let target = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(Error::input(format!(
                "cannot write {shown}: it is a folder"
            )))
        }
        Ok(m) if !m.is_file() => Target::Direct(path.to_path_buf()),
        Ok(_) => Target::Replace(resolve_link(path)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Target::Replace(resolve_link(path)?),
        Err(e) => return Err(Error::input(format!("cannot write {shown}: {e}"))),
    };
    if let Target::Replace(dest) = &target {
        let dir = parent_dir(dest);
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::input(format!(
                    "cannot write {shown}: '{}' is not a folder",
                    dir.display()
                )))
            }
            Err(e) => {
                return Err(Error::input(format!(
                    "cannot write {shown}: folder '{}': {e}",
                    dir.display()
                )))
            }
        }
        let (_, probe) =
            create_temp(dest).map_err(|e| e.context(format!("cannot write {shown}")))?;
        remove_temp(&probe);
    }
    Ok(target)
}

/// The file a symlink chain ends at (the path itself when it is not a
/// link); a dangling link gives the path it points to, which is created.
fn resolve_link(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p).map_err(|e| {
                    Error::input(format!("cannot read the link '{}': {e}", p.display()))
                })?;
                p = if to.is_absolute() {
                    to
                } else {
                    parent_dir(&p).join(to)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::input(format!(
        "'{}': too many levels of symbolic links",
        path.display()
    )))
}

/// Fail early when stdout cannot be written to at all (no descriptor 1).
///
/// A stdout closed by the caller (`tool >&-`) cannot be told from one the
/// caller opened read-write on `/dev/null` (`tool 1<>/dev/null`, Python's
/// `subprocess.DEVNULL`): before `main` the Rust runtime reopens a closed
/// descriptor 0, 1 or 2 on `/dev/null` read-write, and nothing in the
/// descriptor (path, flags, position) then differs from the caller's own.
/// Telling them apart would need code run before the runtime, which this
/// workspace's `unsafe_code = "forbid"` rules out. So `/dev/null` is
/// accepted however it was opened: writing there loses nothing the caller
/// did not discard, while refusing it broke every caller that discards the
/// output on purpose.
pub(crate) fn check_stdout() -> Result<()> {
    use std::os::fd::AsFd;
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(drop)
        .map_err(|_| Error::input("cannot write stdout: it is closed; give -o FILE or redirect it"))
}

/// A file output that is checked at once and created on the first write
/// (or at [`Output::finish`] when nothing was written).
pub struct LazyFile {
    dest: PathBuf,
    file: Option<AtomicFile>,
    /// Committed by [`Output::finish`]: never created again.
    done: bool,
}

impl LazyFile {
    fn get(&mut self) -> io::Result<&mut AtomicFile> {
        if self.done {
            return Err(io::Error::other("the output was already committed"));
        }
        if self.file.is_none() {
            let f = AtomicFile::create(&self.dest).map_err(|e| io::Error::other(e.msg))?;
            self.file = Some(f);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("output file not open"))
    }
}

/// Where a tool's main output goes: stdout, `-o FILE` written atomically,
/// or `-o` naming a device or FIFO, written directly.
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    File(LazyFile),
    Direct(String, BufWriter<File>),
    /// In memory, for in-process tests (see [`crate::ctx::Ctx::memory`]).
    Memory(Vec<u8>),
}

impl Output {
    /// `None` or `-` is stdout. A file is checked now (see
    /// [`plan_output`]) and created on the first write.
    pub fn open(path: Option<&Path>) -> Result<Output> {
        match path {
            Some(p) if p.as_os_str() != "-" => match plan_output(p)? {
                Target::Replace(dest) => Ok(Output::File(LazyFile {
                    dest,
                    file: None,
                    done: false,
                })),
                Target::Stdout => Self::open(None),
                Target::Stderr => {
                    use std::os::fd::AsFd;
                    let fd = io::stderr()
                        .as_fd()
                        .try_clone_to_owned()
                        .map_err(|e| Error::input(format!("cannot write stderr: {e}")))?;
                    Ok(Output::Direct(
                        "stderr".into(),
                        BufWriter::with_capacity(1 << 16, File::from(fd)),
                    ))
                }
                Target::Direct(p) => {
                    let name = format!("'{}'", p.display());
                    let f = File::options()
                        .write(true)
                        .open(&p)
                        .map_err(|e| Error::input(format!("cannot write {name}: {e}")))?;
                    Ok(Output::Direct(name, BufWriter::with_capacity(1 << 16, f)))
                }
            },
            _ => {
                check_stdout()?;
                Ok(Output::Stdout(BufWriter::with_capacity(
                    1 << 16,
                    io::stdout(),
                )))
            }
        }
    }

    /// How messages name this output.
    pub fn name(&self) -> String {
        match self {
            Output::Stdout(_) => "stdout".into(),
            Output::File(f) => format!("'{}'", f.dest.display()),
            Output::Direct(name, _) => name.clone(),
            Output::Memory(_) => "stdout".into(),
        }
    }

    /// The error for a failed write to this output (a closed pipe is
    /// recognised, so that the tool ends quietly).
    pub fn error(&self, e: io::Error) -> Error {
        Error::write(&self.name(), e)
    }

    /// Flush stdout, or commit the file into place (created empty when
    /// nothing was written). Writes after this go nowhere and fail.
    pub fn finish(&mut self) -> Result<()> {
        match self {
            Output::Stdout(w) => w.flush().map_err(|e| Error::write("stdout", e)),
            Output::File(f) => {
                let name = format!("'{}'", f.dest.display());
                f.get().map_err(|e| Error::write(&name, e))?;
                match f.file.take() {
                    Some(file) => {
                        f.done = true;
                        file.commit()
                    }
                    None => Ok(()),
                }
            }
            Output::Direct(name, w) => w.flush().map_err(|e| Error::write(name, e)),
            Output::Memory(_) => Ok(()),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File(f) => f.get()?.write(buf),
            Output::Direct(_, w) => w.write(buf),
            Output::Memory(m) => {
                m.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File(f) => f.get()?.write_all(buf),
            Output::Direct(_, w) => w.write_all(buf),
            Output::Memory(m) => {
                m.extend_from_slice(buf);
                Ok(())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File(f) => match &mut f.file {
                Some(file) => file.flush(),
                None => Ok(()),
            },
            Output::Direct(_, w) => w.flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

/// A CSV writer as every tool writes CSV: RFC 4180 quoting where needed,
/// `\n` line ends, UTF-8.
pub fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w)
}

/// One CSV record, encoded exactly as [`csv_writer`] would write it
/// (newline included): compact storage for rows held in memory.
pub fn csv_record(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(256)
        .from_writer(Vec::with_capacity(256));
    // Writing into a Vec cannot fail, nor can flushing it.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// The error for a failed CSV write to the output named `name`.
pub fn csv_write_error(name: &str, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::write(name, io),
        other => Error::input(format!("cannot write CSV to {name}: {other:?}")),
    }
}

/// Flush a CSV writer and give back what it wrote into.
pub fn csv_finish<W: Write>(w: csv::Writer<W>, name: &str) -> Result<W> {
    w.into_inner()
        .map_err(|e| Error::write(name, e.into_error()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cxg-core-io-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let d = tmpdir("commit");
        let dest = d.join("out.json");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"[1]").unwrap();
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"[1]");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
    }

    #[test]
    fn dropped_atomic_file_leaves_nothing() {
        let d = tmpdir("drop");
        let dest = d.join("out.json");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"[1").unwrap();
        }
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }

    #[test]
    fn failed_rename_leaves_nothing() {
        let d = tmpdir("rename");
        let dest = d.join("taken");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("x"), b"x").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"data").unwrap();
        assert!(f.commit().is_err());
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
        assert!(temps().is_empty() || !temps().iter().any(|p| p.starts_with(&d)));
    }

    #[test]
    fn output_is_checked_at_open_and_created_late() {
        let d = tmpdir("late");
        let e = Output::open(Some(&d.join("missing/out.csv")))
            .err()
            .unwrap();
        assert!(e.msg.contains("missing"), "{}", e.msg);
        let e = Output::open(Some(&d)).err().unwrap();
        assert!(e.msg.contains("is a folder"), "{}", e.msg);
        let dest = d.join("out.csv");
        let mut out = Output::open(Some(&dest)).unwrap();
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            0,
            "nothing created at open"
        );
        out.finish().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"");
    }

    #[test]
    fn targets() {
        let d = tmpdir("targets");
        assert_eq!(
            plan_output(Path::new("/dev/null")).unwrap(),
            Target::Direct("/dev/null".into())
        );
        assert_eq!(
            plan_output(Path::new("/dev/stdout")).unwrap(),
            Target::Stdout
        );
        assert_eq!(
            plan_output(Path::new("/proc/self/fd/2")).unwrap(),
            Target::Stderr
        );
        let real = d.join("real.json");
        std::fs::write(&real, b"old").unwrap();
        let link = d.join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        assert_eq!(
            plan_output(&link).unwrap(),
            Target::Replace(d.join("real.json"))
        );
        let mut out = Output::open(Some(&link)).unwrap();
        out.write_all(b"new").unwrap();
        out.finish().unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let dangling = d.join("dangling");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        assert_eq!(
            plan_output(&dangling).unwrap(),
            Target::Replace(d.join("made.json"))
        );
    }
}
