cxg_core::main!(cxg_report);
