//! What every transfer of a run shares ([`Net`]: the agent and the retry
//! policy of cxg-http, the hosts found unreachable, the counters, the
//! progress bar, the request log, the diagnostics), the size probes, and
//! the parallel run of the transfers.

use crate::args::{Args, EtagCheck};
use crate::job::{Done, Job};
use crate::plan::{Plan, Totals};
use crate::previous::Known;
use crate::transfer::{content_range, fetch, header};
use cxg_core::ctx::Diag;
use cxg_core::Result;
use cxg_http::log::RequestLog;
use cxg_http::{BodyTimeout, Retry, Verdict};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What is shared by every transfer of a run.
pub struct Net {
    pub agent: ureq::Agent,
    pub retry: Retry,
    /// Hosts (`host:port`) that could not be reached after the retries,
    /// and why: their other files fail at once, other hosts go on.
    down: Mutex<HashMap<String, String>>,
    /// Free bytes to assume on the folder's filesystem (tests), else asked.
    assume_free: Option<u64>,
    /// Body bytes received (written to disk) in this run.
    pub transferred: AtomicU64,
    pub requests: AtomicU64,
    pub progress: Option<indicatif::ProgressBar>,
    /// --log-requests: one line per transfer (after its retries)
    pub log: Option<RequestLog>,
    /// Warnings go here (a clone of the run's).
    pub diag: Diag,
    /// `--etag-check`.
    pub etag_check: EtagCheck,
    /// Hosts whose ETags proved not to be MD5s of the content in this run.
    not_md5: Mutex<HashSet<String>>,
}

/// `host:port` of a URL, the unit that is reachable or not.
pub fn host_key(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
        .unwrap_or_default()
}

impl Net {
    /// The shared state of a run over `jobs` (a proxy from the environment
    /// is not used when every file is on this machine).
    pub fn new(args: &Args, jobs: &[Job], log: Option<RequestLog>, diag: Diag) -> Net {
        let loopback = !jobs.is_empty() && jobs.iter().all(|j| cxg_http::is_loopback(&j.url));
        let threads = usize::from(args.jobs);
        Net {
            agent: cxg_http::agent(&args.net, BodyTimeout::Idle, threads, loopback),
            retry: Retry::new(&args.net),
            down: Mutex::new(HashMap::new()),
            assume_free: args.assume_free_bytes,
            transferred: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            progress: None,
            log,
            diag,
            etag_check: args.etag_check,
            not_md5: Mutex::new(HashSet::new()),
        }
    }

    /// The ETags of `url`'s host are checked (the policy is not `off` and
    /// they have not proved to be something else than MD5s).
    pub fn etags_checked(&self, url: &str) -> bool {
        let d = self.not_md5.lock().unwrap_or_else(|e| e.into_inner());
        self.etag_check != EtagCheck::Off && !d.contains(&host_key(url))
    }

    /// Record that the ETags of `url`'s host are not MD5s; true the first time.
    pub fn etags_not_md5(&self, url: &str) -> bool {
        let mut d = self.not_md5.lock().unwrap_or_else(|e| e.into_inner());
        d.insert(host_key(url))
    }

    /// Why the host of `url` is known to be unreachable in this run.
    pub fn host_down(&self, url: &str) -> Option<String> {
        let d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        d.get(&host_key(url)).cloned()
    }

    pub fn mark_down(&self, url: &str, why: String) {
        let mut d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        d.entry(host_key(url)).or_insert(why);
    }

    /// The hosts that could not be reached, as `host (why)`, sorted.
    pub fn down_hosts(&self) -> Vec<String> {
        let d = self.down.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts: Vec<String> = d.iter().map(|(h, why)| format!("{h} ({why})")).collect();
        hosts.sort();
        hosts
    }

    /// Free bytes on `dir`'s filesystem now.
    pub fn free(&self, dir: &Path) -> Option<u64> {
        match self.assume_free {
            Some(n) => Some(n.saturating_sub(self.transferred.load(Ordering::Relaxed))),
            None => cxg_core::io::free_space(dir).ok(),
        }
    }
}

/// Ask the server for the size of a file whose size the input does not
/// give: `Range: bytes=0-0` (a 206 names the total; a server ignoring
/// Range answers 200 with a Content-Length, and the body is not read; a 416
/// names a total of 0). None when the answer tells nothing (the transfer
/// then learns the size from its first response).
/// `Err(())`: the host could not be reached (no more probes for it).
fn probe_size(net: &Net, job: &Job) -> std::result::Result<Option<u64>, ()> {
    net.requests.fetch_add(1, Ordering::Relaxed);
    let r = net
        .agent
        .get(&job.url)
        .header("Accept-Encoding", "identity")
        .header("Range", "bytes=0-0")
        .call();
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            let unreachable = matches!(
                cxg_http::transport_verdict(&e),
                Verdict::Retry {
                    unreachable: true,
                    ..
                }
            );
            return if unreachable { Err(()) } else { Ok(None) };
        }
    };
    Ok(match r.status().as_u16() {
        206 | 416 => content_range(header(&r, "content-range").as_deref()).and_then(|c| c.2),
        200 => header(&r, "content-length").and_then(|v| v.parse::<u64>().ok()),
        _ => None,
    })
}

/// Ask the server the size of every file the input gives none for (in
/// parallel, one request each; a host that cannot be reached is not asked
/// again).
pub fn learn_sizes(net: &Net, jobs: &mut [Job], threads: usize) -> Result<()> {
    let unknown: Vec<usize> = (0..jobs.len())
        .filter(|&i| jobs[i].size.is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let dead: Mutex<HashSet<String>> = Mutex::default();
    let is_dead = |h: &str| dead.lock().unwrap_or_else(|e| e.into_inner()).contains(h);
    let mut sizes: Vec<Option<u64>> = vec![None; unknown.len()];
    let view: Vec<Job> = unknown.iter().map(|&i| jobs[i].clone()).collect();
    cxg_core::par::ordered_map(
        &view,
        threads,
        |_, j| {
            let host = host_key(&j.url);
            if is_dead(&host) {
                return None;
            }
            probe_size(net, j).unwrap_or_else(|()| {
                dead.lock().unwrap_or_else(|e| e.into_inner()).insert(host);
                None
            })
        },
        |k, s| {
            sizes[k] = s;
            Ok(())
        },
    )?;
    for (&i, s) in unknown.iter().zip(sizes) {
        if s.is_some() {
            jobs[i].size = s;
            jobs[i].learned = true;
        }
    }
    Ok(())
}

/// A progress bar on stderr, when it is a terminal and there is something to fetch.
pub fn progress_bar(quiet: bool, totals: &Totals) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() || totals.to_fetch == 0 {
        return None;
    }
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(totals.need),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(format!("0/{} files", totals.to_fetch));
    Some(pb)
}

/// What the transfers need besides the jobs.
pub struct Run<'a> {
    pub dir: &'a Path,
    pub threads: usize,
    pub verify: bool,
    pub previous: &'a HashMap<String, Known>,
    pub plans: &'a [Plan],
    pub to_fetch: usize,
}

/// Get every job, `threads` at a time; results in job order.
pub fn transfer_all(net: &Net, jobs: &[Job], run: &Run) -> Result<Vec<Done>> {
    let done_files = AtomicU64::new(0);
    let mut results: Vec<Option<Done>> = vec![None; jobs.len()];
    cxg_core::par::ordered_map(
        jobs,
        run.threads,
        |i, j| {
            let path = run.dir.join(&j.name).to_string_lossy().into_owned();
            let d = fetch(net, run.dir, j, run.verify, run.previous.get(&path));
            if !matches!(run.plans[i], Plan::Present(_)) {
                let n = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = &net.progress {
                    p.set_message(format!("{n}/{} files", run.to_fetch));
                }
            }
            d
        },
        |i, d| {
            results[i] = Some(d);
            Ok(())
        },
    )?;
    if let Some(p) = &net.progress {
        p.finish_and_clear();
    }
    Ok(results
        .into_iter()
        .map(|d| d.unwrap_or_else(|| Done::failed("internal: no result", None, false)))
        .collect())
}
