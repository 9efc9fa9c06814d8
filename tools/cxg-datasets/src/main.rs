use clap::Parser;

fn main() {
    let args = cxg_datasets::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-datasets", output, |ctx| cxg_datasets::run(args, ctx))
}
