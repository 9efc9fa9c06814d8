use clap::Parser;

fn main() {
    let args = cxg_split::Args::parse();
    cxg_core::cli::main_with("cxg-split", || cxg_split::run(args))
}
