use clap::Parser;

fn main() {
    let args = cxg_diff::Args::parse();
    cxg_core::cli::main_with("cxg-diff", || cxg_diff::run(args))
}
