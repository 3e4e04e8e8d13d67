//! Physical line numbers for CSV records.
//!
//! The csv crate's `Position::line()` is not the line a record starts on: a record's position is taken where
//! the previous record's terminator ended, so with CRLF endings (the reader stops at `\r` and counts the `\n`
//! as part of the next record) every record reads one line low, and so does a record after blank lines
//! (skipped as part of the next record); with CR-only endings it never counts a line at all. Its byte offset,
//! though, is exact. [`LineBreaks`] sits between the file and the CSV reader, notes every `\r` and `\n` it
//! passes on, and turns a record's byte offset into the physical line of its first byte.
//!
//! A line ends at `\n`, `\r\n` or a lone `\r` (the terminators the CSV reader accepts), also inside a quoted
//! field that spans several lines; the first line is 1.

use std::collections::VecDeque;
use std::io::{self, Read};

/// A reader that passes the file through unchanged and remembers where its line breaks are.
pub(super) struct LineBreaks<R> {
    inner: R,
    /// Offset of the next byte read from `inner`.
    read: u64,
    /// The last byte read was `\r`, so a `\n` next to it ends the same line.
    after_cr: bool,
    /// Every `\r` and `\n` read and not yet passed by [`LineBreaks::line_at`]: its offset, and whether it ends
    /// a line (the `\n` of a `\r\n` does not). At most one read-ahead buffer's worth.
    pending: VecDeque<(u64, bool)>,
    /// Line breaks before the first pending byte.
    breaks_before: u64,
}

impl<R: Read> LineBreaks<R> {
    pub(super) fn new(inner: R) -> Self {
        Self { inner, read: 0, after_cr: false, pending: VecDeque::new(), breaks_before: 0 }
    }

    /// The physical line (from 1) of the record whose position is `offset`: the record's first byte is the
    /// first one at or after `offset` that is not a line break (the CSV reader's record position can point at
    /// the `\n` of the previous record's `\r\n`, or at blank lines it skips). Offsets must not go backwards;
    /// everything before `offset` is forgotten.
    pub(super) fn line_at(&mut self, offset: u64) -> u64 {
        while let Some(&(at, ends_line)) = self.pending.front() {
            if at >= offset {
                break;
            }
            self.breaks_before += u64::from(ends_line);
            self.pending.pop_front();
        }
        // The line breaks the record's first byte comes after: the unbroken run of them from `offset` on.
        let leading: u64 = (offset..)
            .zip(&self.pending)
            .take_while(|(expected, (at, _))| at == expected)
            .map(|(_, &(_, ends_line))| u64::from(ends_line))
            .sum();
        1 + self.breaks_before + leading
    }
}

impl<R: Read> Read for LineBreaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let bytes = &buf[..n];
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\r' => self.pending.push_back((self.read + i as u64, true)),
                b'\n' => {
                    let after_cr = if i == 0 { self.after_cr } else { bytes[i - 1] == b'\r' };
                    self.pending.push_back((self.read + i as u64, !after_cr));
                }
                _ => {}
            }
        }
        if let Some(&last) = bytes.last() {
            self.after_cr = last == b'\r';
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first field and physical line of every record, read through a CSV reader whose buffer holds
    /// `capacity` bytes (small capacities split `\r\n` and quoted fields across reads).
    fn records(data: &[u8], capacity: usize) -> Vec<(String, u64)> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(capacity)
            .from_reader(LineBreaks::new(data));
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let offset = record.position().unwrap().byte();
            let line = reader.get_mut().line_at(offset);
            // (The reader drops a byte-order mark only when its buffer holds all three bytes.)
            let first = String::from_utf8_lossy(&record[0]).trim_start_matches('\u{feff}').to_owned();
            out.push((first, line));
        }
        out
    }

    fn check(data: &str, expected: &[(&str, u64)]) {
        // Not 3: a first read of exactly a byte-order mark makes csv-core 0.1.13 see the end of the input.
        for capacity in [1, 2, 4, 7, 8 * 1024] {
            let got = records(data.as_bytes(), capacity);
            let got: Vec<(&str, u64)> = got.iter().map(|(f, l)| (f.as_str(), *l)).collect();
            assert_eq!(got, expected, "{data:?} with a {capacity}-byte buffer");
        }
    }

    #[test]
    fn every_line_ending_gives_the_same_lines() {
        let expected = [("h", 1), ("a", 2), ("b", 3), ("c", 4)];
        check("h\na\nb\nc\n", &expected);
        check("h\r\na\r\nb\r\nc\r\n", &expected);
        check("h\ra\rb\rc\r", &expected);
        check("h\r\na\nb\rc", &expected);
    }

    #[test]
    fn quoted_fields_over_several_lines_and_blank_lines_count() {
        let expected = [("h", 1), ("a\nx\ny", 2), ("b", 5), ("c", 6)];
        check("h\n\"a\nx\ny\"\nb\nc\n", &expected);
        let expected = [("h", 1), ("a\r\nx\r\ny", 2), ("b", 5), ("c", 6)];
        check("h\r\n\"a\r\nx\r\ny\"\r\nb\r\nc\r\n", &expected);
        check("\n\nh\n\na\n\r\n\r\nb\n", &[("h", 3), ("a", 5), ("b", 8)]);
        // A byte-order mark's bytes come before the first line break, like any others.
        check("\u{feff}h\r\n\r\na,\"\n\"\r\nb", &[("h", 1), ("a", 3), ("b", 5)]);
    }
}
