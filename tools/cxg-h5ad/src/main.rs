use clap::Parser;

fn main() {
    let args = cxg_h5ad::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-h5ad", output, |ctx| cxg_h5ad::run(args, ctx))
}
