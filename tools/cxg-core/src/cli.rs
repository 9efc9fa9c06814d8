//! What every tool's `main` shares: the diagnostic prefix, the help
//! epilogue (examples, common options, exit codes) and the function that
//! turns a run's result into an exit status.

use crate::error::{Exit, Outcome, Result, EXIT_CODES};
use std::io::Write;
use std::sync::OnceLock;

static TOOL: OnceLock<&'static str> = OnceLock::new();

/// The name diagnostics are prefixed with (`cxg-fetch: ...`).
pub fn tool() -> &'static str {
    TOOL.get().copied().unwrap_or("cxg")
}

/// Print one diagnostic line on stderr, prefixed with the tool's name.
pub fn warn(msg: impl std::fmt::Display) {
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

/// Run a tool's `run(args, &mut Ctx)` in the context of a real run: `-o`
/// (`output`) is checked before anything else, and the exit status comes
/// from the records the tool failed (see [`crate::ctx::Ctx`]).
pub fn main_ctx(
    name: &'static str,
    output: Option<std::path::PathBuf>,
    run: impl FnOnce(&mut crate::ctx::Ctx) -> Result<()>,
) -> ! {
    main_with(name, || {
        let mut ctx = crate::ctx::Ctx::new(output.as_deref())?;
        run(&mut ctx)?;
        ctx.finish()
    })
}

/// Run a tool's entry point and exit with the shared status table.
///
/// Errors are printed as one line `TOOL: message` (never a backtrace), a
/// closed stdout pipe ends quietly with status 0, and a partial run exits 1
/// after a summary line.
pub fn main_with(name: &'static str, run: impl FnOnce() -> Result<Outcome>) -> ! {
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
