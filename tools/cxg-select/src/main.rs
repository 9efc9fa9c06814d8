cxg_core::main!(cxg_select);
