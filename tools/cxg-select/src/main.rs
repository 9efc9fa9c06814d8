use clap::Parser;

fn main() {
    let args = cxg_select::Args::parse();
    cxg_core::cli::main_with("cxg-select", || cxg_select::run(args))
}
