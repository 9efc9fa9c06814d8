use clap::Parser;

fn main() {
    let args = cxg_download::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-download", output, |ctx| cxg_download::run(args, ctx))
}
