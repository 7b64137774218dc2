//! Request IDs (`x-amz-request-id`): 16 upper-case hex digits, unique per process run
//! without coordination between cores: 8 bits of core, 24 bits from the start time, 32 bits
//! of a per-core counter.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct RequestIds {
    prefix: u64,
    counter: Cell<u32>,
}

impl RequestIds {
    pub fn new(core: usize) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let prefix = ((core as u64 & 0xff) << 56) | ((nanos >> 10) & 0xff_ffff) << 32;
        RequestIds {
            prefix,
            counter: Cell::new(0),
        }
    }

    /// The next ID.
    pub fn next_id(&self) -> String {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        format!("{:016X}", self.prefix | u64::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let a = RequestIds::new(0);
        let b = RequestIds::new(1);
        let ids: Vec<String> = (0..3)
            .map(|_| a.next_id())
            .chain((0..3).map(|_| b.next_id()))
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|id| id.len() == 16
            && id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())));
    }
}
