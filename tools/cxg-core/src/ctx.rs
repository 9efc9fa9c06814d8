//! The context every tool runs in: where input comes from, the main output
//! (checked before any work, created on the first write, cleaned on a
//! signal), the sink for warnings and progress, and the count of records
//! that could not be processed, which becomes the exit status.
//!
//! A tool's entry point is `run(args, &mut Ctx) -> Result<()>`. In `main`
//! the context writes to stdout or `-o FILE` and warns on stderr; in tests
//! [`Ctx::memory`] feeds literal stdin and captures output and warnings, so
//! that a tool's transformation is tested in-process, input → output.

use crate::cli::warn;
use crate::error::{Error, Outcome, Result};
use crate::io::{Input, Output};
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where diagnostics go.
#[derive(Clone)]
enum Sink {
    /// `TOOL: message` on stderr.
    Stderr,
    /// Collected, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

/// What writes go to while the output is taken: every write fails.
#[derive(Default)]
struct Taken;

impl Write for Taken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(
            "internal: the output is in use elsewhere",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A tool's run context. See the module documentation.
pub struct Ctx {
    out: Option<Output>,
    taken: Taken,
    out_name: String,
    memory_out: Option<Arc<Mutex<Vec<u8>>>>,
    stdin: Option<Vec<u8>>,
    sink: Sink,
    failed: usize,
}

impl Ctx {
    /// The context of a real run: `output` (`None` or `-` = stdout) is
    /// checked now, before the tool reads any input or makes any request.
    pub fn new(output: Option<&Path>) -> Result<Ctx> {
        let out = Output::open(output)?;
        Ok(Ctx {
            taken: Taken,
            out_name: out.name(),
            out: Some(out),
            memory_out: None,
            stdin: None,
            sink: Sink::Stderr,
            failed: 0,
        })
    }

    /// A context for in-process tests: `stdin` is what the tool reads when
    /// given no file; output and warnings are kept in memory (see
    /// [`Ctx::output`], [`Ctx::warnings`]).
    pub fn memory(stdin: &[u8]) -> Ctx {
        let buf = Arc::new(Mutex::new(Vec::new()));
        Ctx {
            out: None,
            taken: Taken,
            out_name: "stdout".into(),
            memory_out: Some(buf),
            stdin: Some(stdin.to_vec()),
            sink: Sink::Memory(Arc::new(Mutex::new(Vec::new()))),
            failed: 0,
        }
    }

    /// Open the input: a file, or (`None` / `-`) stdin.
    pub fn input(&mut self, path: Option<&Path>) -> Result<Input> {
        let is_stdin = path.is_none_or(|p| p.as_os_str() == "-");
        match (&self.stdin, is_stdin) {
            (Some(bytes), true) => Ok(Input {
                name: "stdin".into(),
                reader: Box::new(std::io::Cursor::new(bytes.clone())),
            }),
            _ => Input::open(path),
        }
    }

    /// True when the tool would read stdin from a terminal (never in
    /// process).
    pub fn stdin_is_terminal(&self) -> bool {
        self.stdin.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin())
    }

    /// Check another output file the tool writes besides the main one
    /// (for example `--failures FILE`): call it before any work.
    pub fn extra_output(&self, path: &Path) -> Result<Output> {
        Output::open(Some(path))
    }

    /// The main output, as a writer. Errors while writing are reported
    /// with [`Ctx::write_error`].
    pub fn out(&mut self) -> &mut dyn Write {
        if let Some(buf) = &self.memory_out {
            return self
                .out
                .get_or_insert_with(|| Output::Memory(Arc::clone(buf)));
        }
        match &mut self.out {
            Some(o) => o,
            // taken by take_out and not given back: an error, not a sink
            None => &mut self.taken,
        }
    }

    /// Take the main output to hand it to a writer that owns it (a CSV
    /// writer); give it back with [`Ctx::put_out`] before the run ends.
    pub fn take_out(&mut self) -> Output {
        match (&self.memory_out, self.out.take()) {
            (_, Some(o)) => o,
            (Some(buf), None) => Output::Memory(Arc::clone(buf)),
            (None, None) => Output::Memory(Arc::default()),
        }
    }

    /// Give back the output taken by [`Ctx::take_out`].
    pub fn put_out(&mut self, out: Output) {
        self.out = Some(out);
    }

    /// How messages name the main output.
    pub fn out_name(&self) -> &str {
        &self.out_name
    }

    /// The error for a failed write to the main output.
    pub fn write_error(&self, e: std::io::Error) -> Error {
        Error::write(&self.out_name, e)
    }

    /// A diagnostic line (`TOOL: message` on stderr).
    pub fn warn(&self, msg: impl Display) {
        match &self.sink {
            Sink::Stderr => warn(msg),
            Sink::Memory(v) => v
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(msg.to_string()),
        }
    }

    /// A function that warns like [`Ctx::warn`], for code that runs on
    /// other threads (the HTTP client's retry notices).
    pub fn warner(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let sink = self.sink.clone();
        move |m: &str| match &sink {
            Sink::Stderr => warn(m),
            Sink::Memory(v) => v
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(m.to_string()),
        }
    }

    /// A record that could not be processed: named on stderr and counted;
    /// the run goes on and ends with exit status 1.
    pub fn fail(&mut self, msg: impl Display) {
        self.warn(msg);
        self.failed += 1;
    }

    /// Count what a run that reports an [`Outcome`] could not process.
    pub fn add_outcome(&mut self, outcome: Outcome) {
        if let Outcome::Partial(n) = outcome {
            self.failed += n;
        }
    }

    /// Records failed so far.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Flush or commit the main output (created empty when nothing was
    /// written) and say how the run ended.
    pub fn finish(&mut self) -> Result<Outcome> {
        if let Some(out) = self.out.take() {
            out.finish()?;
        } else if self.memory_out.is_none() {
            // A real run that never wrote still creates its (empty) output.
            return Err(Error::input(
                "internal: the output was taken and not given back",
            ));
        }
        Ok(Outcome::of_failures(self.failed))
    }

    /// What an in-process run wrote (empty for a real run).
    pub fn output(&self) -> Vec<u8> {
        self.memory_out
            .as_ref()
            .map(|b| b.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// What an in-process run warned (empty for a real run).
    pub fn warnings(&self) -> Vec<String> {
        match &self.sink {
            Sink::Memory(v) => v.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Sink::Stderr => Vec::new(),
        }
    }
}

/// Run `tool` in-process on literal stdin and return (exit status,
/// output, warnings): the harness of the in-process table tests.
pub fn run_memory(
    stdin: &[u8],
    tool: impl FnOnce(&mut Ctx) -> Result<()>,
) -> (i32, String, Vec<String>) {
    let mut ctx = Ctx::memory(stdin);
    let code = match tool(&mut ctx).and_then(|()| ctx.finish()) {
        Ok(Outcome::Complete) => 0,
        Ok(Outcome::Partial(_)) => 1,
        Err(e) => {
            ctx.warn(&e);
            e.exit as i32
        }
    };
    let out = String::from_utf8_lossy(&ctx.output()).into_owned();
    (code, out, ctx.warnings())
}

/// The path of `-o`, for [`crate::cli::main_ctx`].
pub type OutputPath = Option<PathBuf>;
