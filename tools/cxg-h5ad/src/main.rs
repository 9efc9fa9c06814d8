cxg_core::main!(cxg_h5ad);
