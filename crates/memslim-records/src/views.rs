//! Version log that tells whether a row view taken earlier still names the same record.

use std::collections::VecDeque;

/// How many structural changes are remembered; views older than that are stale.
const HISTORY: usize = 256;

/// Each structural change records the rows it disturbed (`[lo, hi)`); a view of row `i`
/// taken at version `v` is still valid if no change after `v` touched `i`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ViewLog {
    version: u64,
    log: VecDeque<(u64, usize, usize)>,
}

impl ViewLog {
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn disturb(&mut self, lo: usize, hi: usize) {
        self.version += 1;
        self.log.push_back((self.version, lo, hi));
        if self.log.len() > HISTORY {
            self.log.pop_front();
        }
    }

    pub(crate) fn is_valid(&self, row: usize, since: u64) -> bool {
        if since == self.version {
            return true;
        }
        match self.log.front() {
            Some(&(first, _, _)) if first <= since + 1 => {}
            _ => return false,
        }
        self.log
            .iter()
            .filter(|(v, _, _)| *v > since)
            .all(|&(_, lo, hi)| row < lo || row >= hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_disturbed_rows_go_stale() {
        let mut l = ViewLog::default();
        let v0 = l.version();
        l.disturb(10, usize::MAX);
        assert!(l.is_valid(9, v0));
        assert!(!l.is_valid(10, v0));
        let v1 = l.version();
        l.disturb(3, 4);
        assert!(!l.is_valid(3, v1));
        assert!(l.is_valid(4, v1));
        assert!(!l.is_valid(3, v0));
        for _ in 0..HISTORY + 1 {
            l.disturb(1000, 1001);
        }
        assert!(!l.is_valid(0, v0), "views older than the history are stale");
    }
}
