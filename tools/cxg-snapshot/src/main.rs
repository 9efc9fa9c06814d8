cxg_core::main!(cxg_snapshot);
