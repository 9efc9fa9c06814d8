//! What a run works on and what it ends with: a file to get ([`Job`]) and
//! how it ended ([`Done`], [`Status`]).

/// One file to get.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    /// `<uuid>.h5ad`, checked.
    pub name: String,
    /// The size the input claims, or the server answered a size probe
    /// with (`learned`); None when unknown.
    pub size: Option<u64>,
    /// `size` came from the server's answer to a probe, not from the input.
    pub learned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Downloaded,
    Resumed,
    Present,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Downloaded => "downloaded",
            Status::Resumed => "resumed",
            Status::Present => "present",
            Status::Failed => "failed",
        }
    }
}

/// How one file ended.
#[derive(Debug, Clone)]
pub struct Done {
    pub status: Status,
    pub bytes: Option<u64>,
    pub sha256: String,
    pub verified_by: String,
    pub etag: String,
    pub reason: String,
    /// The failure was the service's (5xx, 429, network), not the file's.
    pub service: bool,
}

impl Done {
    pub fn failed(reason: impl Into<String>, bytes: Option<u64>, service: bool) -> Done {
        Done {
            status: Status::Failed,
            bytes,
            sha256: String::new(),
            verified_by: String::new(),
            etag: String::new(),
            reason: reason.into(),
            service,
        }
    }
}

/// The place a per-file failure happened, put before its message: what
/// [`cxg_core::At`] is for errors that end the run, for the failures that
/// end one file (a row of the manifest, not the run).
pub trait Why<T> {
    fn why(self, place: impl std::fmt::Display) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Why<T> for Result<T, E> {
    fn why(self, place: impl std::fmt::Display) -> Result<T, String> {
        self.map_err(|e| format!("{place}: {e}"))
    }
}
