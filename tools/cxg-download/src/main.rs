use clap::Parser;

fn main() {
    let args = cxg_download::Args::parse();
    cxg_core::cli::main_with("cxg-download", || cxg_download::run(args))
}
