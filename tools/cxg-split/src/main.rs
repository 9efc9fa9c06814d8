use clap::Parser;

fn main() {
    let args = cxg_split::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-split", output, |ctx| cxg_split::run(args, ctx))
}
