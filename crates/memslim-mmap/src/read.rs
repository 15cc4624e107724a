//! The record file behind memslim-records' read interface: [`ReadRecords`] for its
//! records and [`FileField`] ([`ReadField`]) for one field of its first records, so the
//! bindings' record and column views read a file as they read a list in memory.

use std::ops::Range;

use memslim_records::{
    AbsentAs, Cell, CellRef, CmpOp, ReadField, ReadRecords, RecordList, Sum, Tally, search_text,
    verdict,
};

use crate::FieldSum;
use crate::error::MmapError;
use crate::file::RecordFile;

impl ReadRecords for RecordFile {
    type Error = MmapError;

    fn record_count(&self) -> usize {
        self.len()
    }

    fn visit_record(
        &mut self,
        row: usize,
        f: &mut dyn FnMut(&str, CellRef<'_>),
    ) -> Result<(), MmapError> {
        self.visit_row(row, f)
    }

    fn visit_records(
        &mut self,
        rows: &[usize],
        f: &mut dyn FnMut(usize, &str, CellRef<'_>),
    ) -> Result<(), MmapError> {
        self.visit_rows(rows, f)
    }

    fn read_field<R>(
        &mut self,
        row: usize,
        name: &str,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, MmapError> {
        self.with_field(row, name, f)
    }

    /// Committed values borrowed from the map, not staged.
    fn append_to(&mut self, out: &mut RecordList, rows: &[usize]) -> Result<bool, MmapError> {
        self.append_rows_to(out, rows)
    }
}

/// Field `name` of the first `len` records of a file, borrowed for a read.
///
/// A file's records never change once appended, so the values a `FileField` reads are
/// the ones it had when its length was fixed, as a column snapshot of a list in memory.
pub struct FileField<'a> {
    file: &'a mut RecordFile,
    name: &'a str,
    len: usize,
}

impl<'a> FileField<'a> {
    /// Field `name` of the first `len` records of `file` (at most its length).
    pub fn new(file: &'a mut RecordFile, name: &'a str, len: usize) -> Self {
        let len = len.min(file.len());
        FileField { file, name, len }
    }

    /// The file the field is read from.
    pub fn file(&mut self) -> &mut RecordFile {
        self.file
    }
}

impl ReadField for FileField<'_> {
    type Error = MmapError;

    fn field_name(&self) -> &str {
        self.name
    }

    fn value_count(&self) -> usize {
        self.len
    }

    fn visit_values(
        &mut self,
        rows: Range<usize>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<(), MmapError> {
        self.visit_candidates(rows, None, f)
    }

    /// Passes over committed strings of other bytes than `text`'s, unread.
    fn visit_candidates(
        &mut self,
        rows: Range<usize>,
        text: Option<&str>,
        f: &mut dyn FnMut(usize, CellRef<'_>) -> bool,
    ) -> Result<(), MmapError> {
        let rows = rows.start..rows.end.min(self.len);
        self.file.visit_field_candidates(self.name, rows, text, f)
    }

    /// A search for one string runs over each committed string column in place
    /// (lengths first, see [`RecordFile::visit_field_candidates`]), each match given to
    /// `emit` without being read again.
    fn find_matching(
        &mut self,
        op: CmpOp,
        probe: &Cell<'_>,
        absent: AbsentAs,
        rows: Range<usize>,
        emit: &mut dyn FnMut(usize, bool) -> bool,
    ) -> Result<(), MmapError> {
        let (rows, text) = (rows.start..rows.end.min(self.len), search_text(op, probe));
        self.file
            .visit_field_candidates(self.name, rows, text, |i, v| {
                match judge(v, op, probe, absent, text) {
                    Some(true) => emit(i, true),
                    Some(false) => true,
                    None => emit(i, false),
                }
            })
    }

    /// [`FileField::find_matching`] counting as it goes: no call per match.
    fn count_equal(
        &mut self,
        probe: &Cell<'_>,
        rows: Range<usize>,
    ) -> Result<(usize, Vec<usize>), MmapError> {
        let (rows, text) = (
            rows.start..rows.end.min(self.len),
            search_text(CmpOp::Eq, probe),
        );
        let mut tally = Tally::default();
        self.file
            .visit_field_candidates(self.name, rows, text, |i, v| {
                match judge(v, CmpOp::Eq, probe, AbsentAs::Null, text) {
                    Some(true) => tally.add(i, true),
                    Some(false) => true,
                    None => tally.add(i, false),
                }
            })?;
        Ok(tally.into_parts())
    }

    fn read_value<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(CellRef<'_>) -> R,
    ) -> Result<R, MmapError> {
        if i >= self.len {
            return Err(memslim_records::RecordsError::IndexOutOfRange {
                index: i,
                len: self.len,
            }
            .into());
        }
        self.file.with_field(i, self.name, f)
    }

    /// From the field's Arrow arrays (committed batches are not copied).
    fn null_count(&mut self) -> Result<usize, MmapError> {
        match self.file.field_sum(self.name, self.len) {
            Ok(s) => Ok(s.nulls),
            // No record has the field: every value is absent.
            Err(MmapError::Value(_)) => Ok(self.len),
            Err(e) => Err(e),
        }
    }

    /// Arrow's kernels over the field's arrays.
    fn sum(&mut self) -> Result<Sum, MmapError> {
        match self.file.field_sum(self.name, self.len) {
            Ok(FieldSum { sum: Some(s), .. }) => Ok(s),
            // The values say which one is not a number (or that none is there).
            Ok(_) | Err(MmapError::Value(_)) => memslim_records::read::sum_values(self),
            Err(e) => Err(e),
        }
    }

    /// One pass over the field's Arrow arrays for the sum and the null count together.
    fn mean(&mut self) -> Result<Option<f64>, MmapError> {
        match self.file.field_sum(self.name, self.len) {
            Ok(s @ FieldSum { sum: Some(_), .. }) => Ok(s.mean()),
            // As `sum`: the values say why there is no sum (or that none is there).
            Ok(_) | Err(MmapError::Value(_)) => memslim_records::read::mean_values(self),
            Err(e) => Err(e),
        }
    }
}

/// The string a search for `op` `probe` may pass the other strings over for: only a
/// search for one string (nulls and other strings never equal it).
/// [`verdict`] on `v`, knowing that a search for `text` gives a value that is `text`'s
/// bytes as `text` itself (the same pointer): that one matches without a comparison.
#[inline(always)]
fn judge(
    v: CellRef<'_>,
    op: CmpOp,
    probe: &Cell<'_>,
    absent: AbsentAs,
    text: Option<&str>,
) -> Option<bool> {
    if let (CellRef::Str(x), Some(t)) = (v, text) {
        if std::ptr::eq(x, t) {
            return Some(true);
        }
    }
    verdict(v, op, probe, absent)
}
