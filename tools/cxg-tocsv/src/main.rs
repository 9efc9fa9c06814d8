cxg_core::main!(cxg_tocsv);
