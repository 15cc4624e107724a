//! A small progress bar on stderr: bytes read of the total, rows per second.

use std::io::Write;
use std::time::{Duration, Instant};

/// Redraws at most this often.
const EVERY: Duration = Duration::from_millis(200);

/// Draws a one-line progress bar to a writer (stderr by default).
///
/// # Memory
/// Formats into a reused buffer; writes one line per redraw.
pub struct Progress {
    label: String,
    total: Option<u64>,
    start: Instant,
    last: Option<Instant>,
    out: Box<dyn Write + Send>,
    line: String,
}

impl Progress {
    /// A bar for an input named `label` of `total` bytes (if known), drawn on stderr.
    pub fn stderr(label: &str, total: Option<u64>) -> Self {
        Self::new(label, total, Box::new(std::io::stderr()))
    }

    /// A bar drawn on `out`.
    pub fn new(label: &str, total: Option<u64>, out: Box<dyn Write + Send>) -> Self {
        Progress {
            label: label.to_owned(),
            total,
            start: Instant::now(),
            last: None,
            out,
            line: String::new(),
        }
    }

    /// Reports `bytes` read and `rows` parsed so far; redraws if it is time.
    pub fn update(&mut self, bytes: u64, rows: u64) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < EVERY) {
            return;
        }
        self.last = Some(now);
        self.draw(bytes, rows, false);
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self, bytes: u64, rows: u64) {
        self.draw(bytes, rows, true);
    }

    fn draw(&mut self, bytes: u64, rows: u64, done: bool) {
        use std::fmt::Write as _;
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = rows as f64 / secs;
        self.line.clear();
        let mb = |b: u64| b as f64 / 1e6;
        let _ = match self.total {
            Some(total) if total > 0 => {
                let frac = (bytes as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (frac * 30.0).round() as usize;
                write!(
                    self.line,
                    "\r{} [{}{}] {:5.1}% {:.1}/{:.1} MB, {} rows, {:.0} rows/s",
                    self.label,
                    "#".repeat(filled),
                    ".".repeat(30 - filled),
                    frac * 100.0,
                    mb(bytes),
                    mb(total),
                    rows,
                    rate
                )
            }
            _ => write!(
                self.line,
                "\r{} {:.1} MB, {} rows, {:.0} rows/s",
                self.label,
                mb(bytes),
                rows,
                rate
            ),
        };
        if done {
            self.line.push('\n');
        }
        let _ = self.out.write_all(self.line.as_bytes());
        let _ = self.out.flush();
    }
}
