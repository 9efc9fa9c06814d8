use clap::Parser;

fn main() {
    let args = cxg_snapshot::Args::parse();
    cxg_core::cli::main_with("cxg-snapshot", || cxg_snapshot::run(args))
}
