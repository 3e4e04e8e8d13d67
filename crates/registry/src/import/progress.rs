//! The import's progress bar, and the number formats it and the summary share.
//!
//! The bar measures the file: its length is the file's size and its position the bytes the reader has
//! parsed, so the percentage and the time left come from how much of the file is behind (the reader runs at
//! most a few batches ahead of the database). A file sorted before it is written is gone through twice: the
//! bar is twice its size, the first half filled by reading, the second by the share of rows written. Next to it: the rows done (written or rejected), their rate as a
//! whole number, and the rejected count once there is one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar's template when the file's size is known. The bar takes what the text leaves of the terminal's
/// width, so the line never wraps (a wrapped bar is redrawn one line lower each time).
pub(crate) const TEMPLATE: &str =
    "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% {rows} rows ({rows_per_sec}){rejected}, {eta} left";

/// The template when it is not (a pipe, say): no fraction, so no percentage or time left.
pub(crate) const TEMPLATE_UNSIZED: &str = "{spinner} {elapsed_precise} {rows} rows ({rows_per_sec}){rejected}";

/// An import's progress display: hidden (the default), or a bar on stderr.
///
/// Anything else written to stderr while the bar is drawn tears through it; write it inside
/// [`Progress::suspend`], as the `dinhdanh` CLI's log writer does.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Rows written (or found unchanged) by the database, plus rejected rows.
    rows: AtomicU64,
    rejected: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self::hidden()
    }
}

impl Progress {
    /// Nothing is drawn.
    pub fn hidden() -> Self {
        Self { bar: ProgressBar::hidden(), counts: Arc::default() }
    }

    /// A bar on stderr. Ask for it only when stderr is a terminal (`std::io::IsTerminal`).
    pub fn stderr() -> Self {
        Self::on(ProgressDrawTarget::stderr())
    }

    fn on(target: ProgressDrawTarget) -> Self {
        Self { bar: ProgressBar::with_draw_target(None, target), counts: Arc::default() }
    }

    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Runs `f` with the bar cleared from the screen, then draws it again below whatever `f` wrote.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Starts (or restarts) the display for a file of `file_bytes` bytes (0: unknown).
    pub(crate) fn start(&self, file_bytes: u64) {
        self.counts.rows.store(0, Ordering::Relaxed);
        self.counts.rejected.store(0, Ordering::Relaxed);
        // The style first: anything before it would draw indicatif's default bar.
        self.bar.set_style(self.style(file_bytes > 0));
        if file_bytes > 0 {
            self.bar.set_length(file_bytes);
        } else {
            self.bar.unset_length();
        }
        self.bar.reset();
        if !self.bar.is_hidden() {
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn style(&self, sized: bool) -> ProgressStyle {
        let template = if sized { TEMPLATE } else { TEMPLATE_UNSIZED };
        let rows = Arc::clone(&self.counts);
        let rate = Arc::clone(&self.counts);
        let rejected = Arc::clone(&self.counts);
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("=> ")
            .with_key("rows", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&format_count(rows.rows.load(Ordering::Relaxed)));
            })
            .with_key("rows_per_sec", move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let rows = rate.rows.load(Ordering::Relaxed);
                let _ = w.write_str(&format_rate(per_second(rows, state.elapsed())));
            })
            .with_key("rejected", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let n = rejected.rejected.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = write!(w, ", {} rejected", format_count(n));
                }
            })
    }

    /// The reader has parsed the file up to byte `offset`.
    pub(crate) fn read_to(&self, offset: u64) {
        self.bar.set_position(offset);
    }

    /// The database has taken `rows` more rows.
    pub(crate) fn rows_done(&self, rows: u64) {
        self.counts.rows.fetch_add(rows, Ordering::Relaxed);
    }

    /// One more row rejected.
    pub(crate) fn rejected(&self) {
        self.counts.rows.fetch_add(1, Ordering::Relaxed);
        self.counts.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// A count with thousands separators: `1234567` → `1,234,567`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate per second rounded to a whole number, with thousands separators: `122739.2793` → `122,739/s`.
/// Anything not a positive number (no time elapsed yet) is `0/s`.
pub fn format_rate(per_second: f64) -> String {
    let whole = if per_second.is_finite() && per_second > 0.0 { per_second.round() as u64 } else { 0 };
    format!("{}/s", format_count(whole))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn counts_and_rates_are_whole_numbers_with_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(122_739), "122,739");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(format_rate(122_739.279_3), "122,739/s");
        assert_eq!(format_rate(122_739.5), "122,740/s");
        assert_eq!(format_rate(0.4), "0/s");
        assert_eq!(format_rate(999.6), "1,000/s");
        assert_eq!(format_rate(f64::NAN), "0/s");
        assert_eq!(format_rate(f64::INFINITY), "0/s");
        assert_eq!(format_rate(-3.0), "0/s");
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(500, Duration::ZERO), 0.0);
    }

    #[test]
    fn the_templates_parse_and_the_sized_one_shows_percent_and_time_left() {
        assert!(TEMPLATE.contains("{percent") && TEMPLATE.contains("{eta}") && TEMPLATE.contains("{wide_bar}"));
        assert!(!TEMPLATE_UNSIZED.contains("{percent") && !TEMPLATE_UNSIZED.contains("{eta"));
        for template in [TEMPLATE, TEMPLATE_UNSIZED] {
            assert!(!template.contains("{per_sec}"), "indicatif's per_sec prints four decimals");
            ProgressStyle::with_template(template).expect("a valid template");
        }
    }

    /// A terminal that keeps the last line drawn.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            200
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_owned());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_owned());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.lock().unwrap().push("<clear>".to_owned());
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn last_drawn(&self) -> String {
            self.0.lock().unwrap().iter().rev().find(|s| s.contains("rows")).cloned().unwrap_or_default()
        }
    }

    fn progress_on(screen: &Screen) -> Progress {
        Progress::on(ProgressDrawTarget::term_like(Box::new(screen.clone())))
    }

    /// `start` without the steady tick, so each `tick()` draws the state of that moment.
    fn start(progress: &Progress, file_bytes: u64) {
        progress.start(file_bytes);
        progress.bar.disable_steady_tick();
    }

    #[test]
    fn the_bar_shows_the_share_of_the_file_read_rows_and_rejections() {
        let screen = Screen::default();
        let progress = progress_on(&screen);
        start(&progress, 1000);
        progress.read_to(420);
        progress.rows_done(122_739);
        progress.rejected();
        progress.bar.tick();
        let line = screen.last_drawn();
        assert!(line.contains(" 42% 122,740 rows ("), "{line}");
        assert!(line.contains("/s), 1 rejected, ") && line.ends_with(" left"), "{line}");
        assert_eq!(line.chars().count(), 200, "the bar fills the terminal's width: {line}");
        assert!(!line.contains('.'), "no fractional rates: {line}");
        progress.finish();

        // Unknown size: counts only.
        let screen = Screen::default();
        let progress = progress_on(&screen);
        start(&progress, 0);
        progress.rows_done(5);
        progress.bar.tick();
        let line = screen.last_drawn();
        assert!(line.contains(" 5 rows (") && !line.contains('%') && !line.contains("left"), "{line}");
        assert!(!line.contains("rejected"), "{line}");
    }

    #[test]
    fn what_is_written_while_suspended_comes_after_the_bar_is_cleared() {
        let screen = Screen::default();
        let progress = progress_on(&screen);
        start(&progress, 100);
        progress.bar.tick();
        let written = progress.suspend(|| {
            screen.0.lock().unwrap().push("a log line".to_owned());
            7
        });
        assert_eq!(written, 7);
        let ops = screen.0.lock().unwrap().clone();
        let log = ops.iter().position(|s| s == "a log line").unwrap();
        let bar = ops.iter().position(|s| s.contains("rows")).unwrap();
        assert!(bar < log && ops[bar..log].iter().any(|s| s == "<clear>"), "the bar is cleared first: {ops:?}");
        assert!(ops[log + 1..].iter().any(|s| s.contains("rows")), "and drawn again below the line: {ops:?}");
        assert!(Progress::hidden().is_hidden() && !progress.is_hidden());
        progress.finish();
    }
}
