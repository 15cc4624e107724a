//! [`RecordList::push_grids`]: bulk appends that read the next records while the previous
//! ones are stored.
//!
//! Building a list from records has two halves of similar cost: reading the records
//! (for the Python binding, walking dicts and converting values) and storing them
//! (checking and widening columns, interning strings, writing buffers). The first half
//! can only run on the caller's thread; the second touches nothing but the list. So,
//! for inputs of more than one grid, a worker thread stores grid `k` while the caller
//! fills grid `k + 1`, and the two halves overlap on two cores.

use std::sync::mpsc;
use std::thread;

use crate::error::{RecordsError, Result};
use crate::grid::Grid;
use crate::list::RecordList;

/// What a filler reports after filling a grid for [`RecordList::push_grids`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The grid is full and more records may follow: call again with an empty grid.
    Full,
    /// The filler has stopped (input exhausted, or a record it cannot put in a grid).
    Done,
}

impl RecordList {
    /// Appends the grids that `fill` fills, in order, until it returns [`Fill::Done`].
    ///
    /// `fill` gets an empty grid over the list's current columns and should add at most
    /// `rows_per_grid` rows, returning [`Fill::Full`] when it stopped because the grid
    /// reached that size. The first grid is stored on the calling thread; if more
    /// follow, a worker thread stores each grid while `fill` fills the next, and at most
    /// two grids exist at a time. `fill` always runs on the calling thread and is never
    /// called again after an error. Fields cannot be added during the call (`fill` has
    /// no access to the list); a filler that meets a new field stops, and the caller
    /// adds the field and calls again.
    ///
    /// Returns the number of rows appended.
    ///
    /// # Errors
    /// The first error of [`RecordList::push_grid`]. Grids stored before the failing
    /// one stay appended; a caller that needs all or nothing takes a
    /// [`RecordList::checkpoint`] first.
    pub fn push_grids<'a>(
        &mut self,
        rows_per_grid: usize,
        fill: impl FnMut(&mut Grid<'a>) -> Fill,
    ) -> Result<usize> {
        let stored = self.push_all_grids(rows_per_grid, fill);
        // Whether it stopped early or failed, no more rows of it are coming.
        self.incoming = 0;
        stored
    }

    fn push_all_grids<'a>(
        &mut self,
        rows_per_grid: usize,
        mut fill: impl FnMut(&mut Grid<'a>) -> Fill,
    ) -> Result<usize> {
        let ncols = self.num_fields();
        let mut grid = Grid::with_capacity(ncols, rows_per_grid);
        // A short input never pays for a thread.
        let (mut stored, state) = self.fill_and_push(&mut grid, &mut fill)?;
        if state == Fill::Done {
            return Ok(stored);
        }
        grid.clear();
        let (overlapped, grid) = self.push_grids_overlapped(grid, rows_per_grid, &mut fill);
        let Some(mut grid) = grid else {
            return overlapped.map(|n| stored + n);
        };
        // No worker thread could be started: store the rest here.
        stored += overlapped?;
        loop {
            let (rows, state) = self.fill_and_push(&mut grid, &mut fill)?;
            stored += rows;
            if state == Fill::Done {
                return Ok(stored);
            }
        }
    }

    /// Empties `grid`, has `fill` fill it and stores it on this thread: the rows stored,
    /// and whether `fill` is done.
    fn fill_and_push<'a>(
        &mut self,
        grid: &mut Grid<'a>,
        fill: &mut impl FnMut(&mut Grid<'a>) -> Fill,
    ) -> Result<(usize, Fill)> {
        grid.clear();
        let state = fill(grid);
        self.push_grid(grid)?;
        Ok((grid.num_rows(), state))
    }

    /// The overlapped part of [`RecordList::push_grids`]. Returns the rows stored, and
    /// `grid` back (untouched) if no worker thread could be started.
    fn push_grids_overlapped<'a>(
        &mut self,
        grid: Grid<'a>,
        rows_per_grid: usize,
        fill: &mut impl FnMut(&mut Grid<'a>) -> Fill,
    ) -> (Result<usize>, Option<Grid<'a>>) {
        let ncols = grid.num_cols();
        thread::scope(|s| {
            // Filled grids go to the worker; emptied ones come back.
            let (full_tx, full_rx) = mpsc::sync_channel::<Grid<'a>>(1);
            let (free_tx, free_rx) = mpsc::sync_channel::<Grid<'a>>(1);
            let list = &mut *self;
            let worker = thread::Builder::new()
                .name("memslim-append".into())
                .spawn_scoped(s, move || -> Result<()> {
                    for mut g in full_rx {
                        list.push_grid(&g)?;
                        g.clear();
                        // The caller may have stopped already; that is not an error.
                        let _ = free_tx.send(g);
                    }
                    Ok(())
                });
            let Ok(worker) = worker else {
                return (Ok(0), Some(grid));
            };
            let mut spare = vec![Grid::with_capacity(ncols, rows_per_grid), grid];
            let mut sent = 0;
            // A closed channel means the worker stopped on an error, reported below.
            while let Some(mut g) = spare.pop().or_else(|| free_rx.recv().ok()) {
                let state = fill(&mut g);
                let rows = g.num_rows();
                if rows > 0 {
                    if full_tx.send(g).is_err() {
                        break;
                    }
                    sent += rows;
                }
                if state == Fill::Done {
                    break;
                }
            }
            // Closing both channels lets the worker finish: it stores what it was sent,
            // and its hand-backs of emptied grids then fail instead of blocking.
            drop(full_tx);
            drop(free_rx);
            let res = match worker.join() {
                Ok(Ok(())) => Ok(sent),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(RecordsError::WorkerStopped),
            };
            (res, None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::{Cell, CellRef, DType};

    /// A filler that puts `(id, name)` rows `0..n` into grids of `per` rows.
    fn rows_filler<'a>(
        names: &'a [String],
        per: usize,
        next: &'a mut usize,
    ) -> impl FnMut(&mut Grid<'a>) -> Fill + 'a {
        move |g: &mut Grid<'a>| {
            while *next < names.len() {
                if g.num_rows() == per {
                    return Fill::Full;
                }
                g.push_row();
                g.set(0, Cell::Int(*next as i64));
                g.set(1, Cell::Str(&names[*next]));
                *next += 1;
            }
            Fill::Done
        }
    }

    #[test]
    fn many_grids_arrive_in_order() {
        let names: Vec<String> = (0..10_000).map(|i| format!("n{}", i % 37)).collect();
        let mut list = RecordList::new();
        list.add_field("id").unwrap();
        list.add_field("name").unwrap();
        let mut next = 0;
        let n = list
            .push_grids(64, rows_filler(&names, 64, &mut next))
            .unwrap();
        assert_eq!(n, names.len());
        assert_eq!(list.len(), names.len());
        for (i, name) in names.iter().enumerate() {
            assert_eq!(list.get(i, 0), CellRef::Int(i as i64));
            assert_eq!(list.get(i, 1).to_cell(), Some(Cell::Str(name)));
        }
    }

    #[test]
    fn a_short_input_is_one_grid() {
        let names: Vec<String> = vec!["a".into(), "b".into()];
        let mut list = RecordList::new();
        list.add_field("id").unwrap();
        list.add_field("name").unwrap();
        let mut next = 0;
        assert_eq!(
            list.push_grids(64, rows_filler(&names, 64, &mut next))
                .unwrap(),
            2
        );
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn an_error_in_a_later_grid_stops_the_filler() {
        let mut list =
            RecordList::with_schema(&[("id", DType::Int64)], crate::DEFAULT_CHUNK_ROWS).unwrap();
        let mut calls = 0;
        let mut r = 0;
        let err = list
            .push_grids(8, |g| {
                calls += 1;
                while g.num_rows() < 8 {
                    g.push_row();
                    // Row 100 breaks the schema.
                    let cell = if r == 100 {
                        Cell::Str("x")
                    } else {
                        Cell::Int(r)
                    };
                    g.set(0, cell);
                    r += 1;
                }
                if r >= 10_000 { Fill::Done } else { Fill::Full }
            })
            .unwrap_err();
        assert!(
            matches!(err, RecordsError::SchemaMismatch { row: 100, .. }),
            "{err}"
        );
        // The grids before the bad one are stored, none after it.
        assert_eq!(list.len(), 96);
        assert!(
            calls < 10_000 / 8,
            "the filler was not stopped: {calls} calls"
        );
    }
}
