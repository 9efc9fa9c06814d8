use clap::Parser;

fn main() {
    let args = cxg_datasets::Args::parse();
    cxg_core::cli::main_with("cxg-datasets", || cxg_datasets::run(args))
}
