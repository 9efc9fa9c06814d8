//! The one exit-code table shared by every tool, and the error type that
//! carries a code and a message naming the input and the place.

use std::fmt;

/// Exit statuses, identical in every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything was processed.
    Success = 0,
    /// The run completed, but some records could not be processed; each is
    /// named on stderr and the output still holds everything else.
    Partial = 1,
    /// Bad usage or bad input (unreadable file, malformed JSON or CSV,
    /// unsafe name, bad expression), or a local file could not be written.
    Input = 2,
    /// The API or the network failed (after retries).
    Api = 3,
}

/// The exit-code table as shown in every `--help` and in the README.
pub(crate) const EXIT_CODES: &str = "\
Exit status:
  0  success: every record was processed
  1  completed, but some records could not be processed (each named on stderr)
  2  bad usage or bad input (file, JSON, CSV, expression, unsafe name)
  3  the API or the network failed (after retries)
  129, 130, 143  stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM: every temporary file
                 the tool made was removed first";

/// How a run that did not fail outright ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record was processed.
    Complete,
    /// This many records could not be processed (already named on stderr).
    Partial(usize),
}

impl Outcome {
    /// Complete when nothing failed, else Partial with that count.
    pub(crate) fn of_failures(failed: usize) -> Outcome {
        if failed == 0 {
            Outcome::Complete
        } else {
            Outcome::Partial(failed)
        }
    }
}

/// An error that ends a tool: an exit status and a one-line message.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub msg: String,
    /// Writing to stdout failed because the reader went away (`| head`):
    /// the tool ends quietly with status 0.
    pub broken_pipe: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: Exit, msg: impl Into<String>) -> Self {
        Error {
            exit,
            msg: msg.into(),
            broken_pipe: false,
        }
    }
    /// Bad usage or bad input (exit 2).
    pub fn input(msg: impl Into<String>) -> Self {
        Self::new(Exit::Input, msg)
    }
    /// The API or the network failed (exit 3).
    pub fn api(msg: impl Into<String>) -> Self {
        Self::new(Exit::Api, msg)
    }
    /// An I/O error while writing output named `what`; a closed pipe is
    /// recognised so that the tool can end quietly.
    pub fn write(what: &str, e: std::io::Error) -> Self {
        let mut err = Self::input(format!("cannot write {what}: {e}"));
        err.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        err
    }
    /// Prefix the message with more context.
    pub(crate) fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.msg = format!("{ctx}: {}", self.msg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

/// The place an error happened, put before its message, so that a `?`
/// keeps the file, record or option it concerns:
/// `File::open(p).at(format_args!("cannot open '{}'", p.display()))?`.
///
/// A library error (I/O, CSV, JSON) becomes bad input (exit 2) reading
/// `place: error`; an [`Error`] keeps its exit status and gains the place.
pub trait At<T> {
    fn at(self, place: impl fmt::Display) -> Result<T>;
}

impl<T, E: std::error::Error> At<T> for std::result::Result<T, E> {
    fn at(self, place: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::input(format!("{place}: {e}")))
    }
}

impl<T> At<T> for Result<T> {
    fn at(self, place: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(place))
    }
}
