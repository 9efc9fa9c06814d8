use clap::Parser;

fn main() {
    let args = cxg_fetch::Args::parse();
    cxg_core::cli::main_with("cxg-fetch", || cxg_fetch::run(args))
}
