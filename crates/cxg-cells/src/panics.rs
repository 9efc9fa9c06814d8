//! A panic inside an HDF5 crate (a bug met on a hostile file) becomes that
//! file's error instead of ending the run, on whichever thread reads it,
//! and is not printed; other panics are printed as usual. For cxg-obs and
//! cxg-subset.

use crate::read::R;
use std::cell::Cell;

thread_local! {
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`; a panic in it is its error ("the HDF5 library failed on this
/// file: ..."), printed by no one once [`install_hook`] ran.
pub fn catch<T>(f: impl FnOnce() -> R<T>) -> R<T> {
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    r.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!("the HDF5 library failed on this file: {msg}"))
    })
}

/// Panics are printed as usual, except those [`catch`] turns into a
/// file's error.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET_PANICS.with(Cell::get) {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_the_files_error() {
        install_hook();
        let r: R<()> = catch(|| panic!("index out of bounds"));
        assert_eq!(
            r,
            Err("the HDF5 library failed on this file: index out of bounds".into())
        );
        assert_eq!(catch(|| Ok(3)), Ok(3));
        assert!(!QUIET_PANICS.with(Cell::get));
    }
}
