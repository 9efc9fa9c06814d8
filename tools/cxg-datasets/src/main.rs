cxg_core::main!(cxg_datasets);
