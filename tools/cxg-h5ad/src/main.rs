use clap::Parser;

fn main() {
    let args = cxg_h5ad::Args::parse();
    cxg_core::cli::main_with("cxg-h5ad", || cxg_h5ad::run(args))
}
