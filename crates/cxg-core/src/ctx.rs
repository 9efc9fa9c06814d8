//! The context every tool runs in: where input comes from, the main output
//! (checked before any work, created on the first write, cleaned on a
//! signal), and the diagnostics: warnings, and the count of records that
//! could not be processed, which becomes the exit status.
//!
//! A tool's entry point is `run(args, &mut Ctx) -> Result<()>`. The output
//! and the diagnostics are two fields, so a writer can hold `&mut ctx.out`
//! while the code beside it reports through `ctx.diag`. In `main` the
//! context writes to stdout or `-o FILE` and warns on stderr; in tests
//! [`Ctx::memory`] feeds literal stdin and captures output and warnings, so
//! that a tool's transformation is tested in-process, input → output.

use crate::cli::warn;
use crate::error::{Outcome, Result};
use crate::io::{Input, Output};
use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Where diagnostics go.
#[derive(Clone)]
enum Sink {
    /// `TOOL: message` on stderr.
    Stderr,
    /// Collected, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

/// A run's diagnostics: warnings, and the records that could not be
/// processed. Cloned handles share one count and one sink, so worker
/// threads report through a clone.
#[derive(Clone)]
pub struct Diag {
    sink: Sink,
    failed: Arc<AtomicUsize>,
}

impl Diag {
    fn new(sink: Sink) -> Diag {
        Diag {
            sink,
            failed: Arc::default(),
        }
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

    /// A record that could not be processed: named and counted; the run
    /// goes on and ends with exit status 1.
    pub fn fail(&self, msg: impl Display) {
        self.warn(msg);
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` records that failed for one reason, named together in one
    /// message (a summary of many alike): all of them counted.
    pub fn fail_many(&self, n: usize, msg: impl Display) {
        self.warn(msg);
        self.failed.fetch_add(n, Ordering::Relaxed);
    }

    /// Records failed so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// What an in-process run warned (empty for a real run).
    pub fn messages(&self) -> Vec<String> {
        match &self.sink {
            Sink::Memory(v) => v.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Sink::Stderr => Vec::new(),
        }
    }
}

/// A tool's run context. See the module documentation.
pub struct Ctx {
    /// The main output: stdout, `-o FILE`, or memory in tests.
    pub out: Output,
    /// Warnings and failures.
    pub diag: Diag,
    /// Literal stdin of an in-process run.
    stdin: Option<Vec<u8>>,
}

impl Ctx {
    /// The context of a real run: `output` (`None` or `-` = stdout) is
    /// checked now, before the tool reads any input or makes any request.
    pub fn new(output: Option<&Path>) -> Result<Ctx> {
        Ok(Ctx {
            out: Output::open(output)?,
            diag: Diag::new(Sink::Stderr),
            stdin: None,
        })
    }

    /// The context of a real run on stdout, closed or not: for a run whose
    /// stdout carries no product (see [`crate::cli::ToolArgs::writes_stdout`]).
    pub(crate) fn any_stdout() -> Ctx {
        Ctx {
            out: Output::Stdout(std::io::BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            )),
            diag: Diag::new(Sink::Stderr),
            stdin: None,
        }
    }

    /// A context for in-process tests: `stdin` is what the tool reads when
    /// given no file; output and warnings are kept in memory (see
    /// [`Ctx::output`], [`Ctx::warnings`]).
    pub fn memory(stdin: &[u8]) -> Ctx {
        Ctx {
            out: Output::Memory(Vec::new()),
            diag: Diag::new(Sink::Memory(Arc::default())),
            stdin: Some(stdin.to_vec()),
        }
    }

    /// Open the input: a file, or (`None` / `-`) stdin.
    pub fn input(&self, path: Option<&Path>) -> Result<Input> {
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

    /// Flush or commit the main output (created empty when nothing was
    /// written) and say how the run ended.
    pub fn finish(&mut self) -> Result<Outcome> {
        self.out.finish()?;
        Ok(Outcome::of_failures(self.diag.failed()))
    }

    /// What an in-process run wrote (empty for a real run).
    pub fn output(&self) -> Vec<u8> {
        match &self.out {
            Output::Memory(v) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// What an in-process run warned (empty for a real run).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.diag.messages()
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
            ctx.diag.warn(&e);
            e.exit as i32
        }
    };
    let out = String::from_utf8_lossy(&ctx.output()).into_owned();
    (code, out, ctx.warnings())
}
