use clap::Parser;

fn main() {
    let args = cxg_gen::Args::parse();
    cxg_core::cli::main_with("cxg-gen", || cxg_gen::run(args))
}
