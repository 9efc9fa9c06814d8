use clap::Parser;

fn main() {
    let args = cxg_serve::Args::parse();
    cxg_core::cli::main_with("cxg-serve", || cxg_serve::run(args))
}
