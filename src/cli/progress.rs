//! Progress of long commands on stderr: an `indicatif` bar when stderr is a terminal, plain
//! lines (at most one every few seconds, and the last) otherwise, so logs stay readable.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is written at most.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// What the count is of.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Bytes,
    Memories,
    Files,
}

impl Unit {
    fn plain(self, n: u64) -> String {
        match self {
            Self::Bytes => indicatif::HumanBytes(n).to_string(),
            Self::Memories => format!("{n} memories"),
            Self::Files => format!("{n} files"),
        }
    }

    fn template(self, total: bool) -> &'static str {
        match (self, total) {
            (Self::Bytes, true) => "{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            (Self::Bytes, false) => "{spinner} {msg} {bytes}",
            (_, true) => "{msg} [{bar:40}] {pos}/{len} ({eta})",
            (_, false) => "{spinner} {msg} {pos}",
        }
    }
}

#[derive(Debug)]
pub struct Progress {
    what: String,
    unit: Unit,
    total: Option<u64>,
    bar: Option<ProgressBar>,
    count: u64,
    last_line: Option<Instant>,
}

impl Progress {
    pub fn new(what: &str, unit: Unit, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
            if let Ok(style) = ProgressStyle::with_template(unit.template(total.is_some())) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { what: what.to_owned(), unit, total, bar, count: 0, last_line: None }
    }

    pub fn set(&mut self, count: u64) {
        self.count = count;
        match &self.bar {
            Some(bar) => bar.set_position(count),
            None if self.last_line.is_none_or(|at| at.elapsed() >= LINE_EVERY) => {
                self.last_line = Some(Instant::now());
                self.line();
            }
            None => {}
        }
    }

    pub fn add(&mut self, n: u64) {
        self.set(self.count + n);
    }

    /// Starts counting a next stage of the same work from zero.
    pub fn stage(&mut self, what: &str) {
        self.what = what.to_owned();
        self.count = 0;
        match &self.bar {
            Some(bar) => {
                bar.set_message(what.to_owned());
                bar.set_position(0);
            }
            None => {
                self.last_line = Some(Instant::now());
                self.line();
            }
        }
    }

    fn line(&self) {
        let done = self.unit.plain(self.count);
        let text = match self.total {
            Some(total) => format!("{}: {done} of {}", self.what, self.unit.plain(total)),
            None => format!("{}: {done}", self.what),
        };
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    /// Clears the bar (or writes the last plain line).
    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => self.line(),
        }
    }
}
