use clap::Parser;

fn main() {
    let args = cxg_tocsv::Args::parse();
    cxg_core::cli::main_with("cxg-tocsv", || cxg_tocsv::run(args))
}
