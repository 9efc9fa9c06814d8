cxg_core::main!(cxg_download);
