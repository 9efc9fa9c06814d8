//! What every tool's `main` shares: the diagnostic prefix, the help
//! epilogue (examples, common options, exit codes) and the function that
//! turns a run's result into an exit status.

use crate::ctx::Ctx;
use crate::error::{Exit, Outcome, Result, EXIT_CODES};
use std::io::Write;
use std::sync::OnceLock;

static TOOL: OnceLock<&'static str> = OnceLock::new();

/// The name diagnostics are prefixed with (`cxg-fetch: ...`).
pub fn tool() -> &'static str {
    TOOL.get().copied().unwrap_or("cxg")
}

/// Print one diagnostic line on stderr, prefixed with the tool's name.
pub(crate) fn warn(msg: impl std::fmt::Display) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}: {msg}", tool());
}

/// The help epilogue: the tool's examples (each line indented by two
/// spaces), then the exit-code table.
pub fn after_help(examples: &str) -> String {
    let body: Vec<String> = examples
        .trim()
        .lines()
        .map(|l| match l.trim() {
            "" => String::new(),
            t => format!("  {t}"),
        })
        .collect();
    format!("Examples:\n{}\n\n{EXIT_CODES}\n", body.join("\n"))
}

/// The output option every tool shares, worded the same everywhere.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Write to FILE instead of stdout: checked before any work, written to a
    /// temporary file and renamed into place on success (a device or FIFO is
    /// written directly; a symlink's target is replaced)
    #[arg(
        short,
        long,
        value_name = "FILE",
        help_heading = "Common options",
        global = true
    )]
    pub output: Option<std::path::PathBuf>,
}

/// `--pretty`, for the tools that write JSON.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PrettyArgs {
    /// Indent the JSON (as `jq .` does) instead of one compact value per line
    #[arg(long, global = true)]
    pub pretty: bool,
}

/// The most threads or requests in flight that `-j N` may ask for.
pub(crate) const MAX_JOBS: u16 = 256;

/// The parser of every tool's `-j N`, so that each refuses the same
/// values in the same words: a whole number from 1 to [`MAX_JOBS`]
/// (`#[arg(short = 'j', long, value_parser = cxg_core::cli::jobs())]` on
/// a `u16` field; the default and the help stay the tool's own).
pub fn jobs() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(1..=i64::from(MAX_JOBS))
}

/// The parsed arguments of a tool that runs in a [`Ctx`]: where its main
/// output goes (`-o FILE`; `None` is stdout).
pub trait ToolArgs: clap::Parser {
    fn output(&self) -> Option<&std::path::Path>;

    /// Whether this run writes its product to stdout, so that a closed
    /// stdout is refused before any work (see [`crate::io::check_stdout`]).
    /// A run that writes files elsewhere and at most an announcement on
    /// stdout (cxg-gen, cxg-serve, cxg-snapshot save) answers false: its
    /// stdout is used as it is, closed or not.
    fn writes_stdout(&self) -> bool {
        true
    }
}

/// A tool's whole `main.rs`: `cxg_core::main!(cxg_split);` runs
/// `cxg_split::run(Args, &mut Ctx)` as a real run (see [`run_main`]).
#[macro_export]
macro_rules! main {
    ($tool:ident) => {
        fn main() {
            $crate::cli::run_main(env!("CARGO_PKG_NAME"), $tool::run)
        }
    };
}

/// Parse the arguments, check `-o` before anything else, run the tool in
/// the context of a real run, and exit with the status its records earned
/// (see [`Ctx`]).
pub fn run_main<A: ToolArgs>(name: &'static str, run: fn(A, &mut Ctx) -> Result<()>) -> ! {
    main_with(name, || {
        let args = A::parse();
        let mut ctx = match args.output() {
            None if !args.writes_stdout() => Ctx::any_stdout(),
            output => Ctx::new(output)?,
        };
        run(args, &mut ctx)?;
        ctx.finish()
    })
}

/// Run a tool's entry point and exit with the shared status table.
///
/// Errors are printed as one line `TOOL: message` (never a backtrace), a
/// closed stdout pipe ends quietly with status 0, and a partial run exits 1
/// after a summary line.
fn main_with(name: &'static str, run: impl FnOnce() -> Result<Outcome>) -> ! {
    let _ = TOOL.set(name);
    crate::io::install_signal_cleanup();
    let code = match run() {
        Ok(Outcome::Complete) => Exit::Success,
        Ok(Outcome::Partial(n)) => {
            warn(format_args!(
                "{n} record{} could not be processed (see above)",
                if n == 1 { "" } else { "s" }
            ));
            Exit::Partial
        }
        Err(e) if e.broken_pipe => Exit::Success,
        Err(e) => {
            warn(&e);
            e.exit
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code as i32)
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    #[test]
    fn jobs_are_1_to_256() {
        let parse = |j: &str| {
            Command::new("t")
                .arg(Arg::new("jobs").short('j').value_parser(super::jobs()))
                .try_get_matches_from(["t", "-j", j])
                .map(|m| m.get_one::<u16>("jobs").copied())
        };
        for (j, want) in [("1", Some(1)), ("256", Some(256))] {
            assert_eq!(parse(j).ok().flatten(), want, "-j {j}");
        }
        for j in ["0", "257", "99999999999", "x", ""] {
            assert!(parse(j).is_err(), "-j {j}");
        }
    }
}
