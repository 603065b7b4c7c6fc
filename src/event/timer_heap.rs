//! One clock's timer entries, in two binary heaps over one slab (`heaps.rs` explains the
//! soft and hard deadlines they order).
//!
//! Every entry lives in a slot of `entries` and is named by its slot and its insertion
//! sequence number (a [`Handle`]). Two implicit binary heaps of slot numbers order the
//! entries by `(deadline, seq)` and by `(hard, seq)`; each entry records its position in
//! both, so an entry is removed from the middle of either in O(log n) (swap with the last
//! element, sift). The arrangement is libdispatch's `dispatch_timer_heap_s` (two orders over
//! the same timers, each timer knowing its heap indices) with a slab for the entries.
//!
//! The sequence number breaks ties, so entries with equal deadlines come out in the order
//! they were inserted, and it makes a stale handle harmless: a slot reused by a later entry
//! has a different sequence number, so removing by the old handle finds nothing.
//!
//! Why not `BTreeMap`: the two ordered maps it replaced spent most of a timer fire
//! searching nodes and shifting 48-byte values within them (about 40 % of the instructions
//! of a 100-timer workload under callgrind); a heap moves 4-byte slot numbers.

/// Names one entry: its slot and its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Handle {
    pub(super) slot: u32,
    pub(super) seq: u64,
}

struct Entry<T> {
    seq: u64,
    /// Positions in `by_deadline` and `by_hard`.
    at: [u32; 2],
    value: Option<T>,
}

/// A heap element: the entry's key in that heap's order, and its slot. Keys live in the
/// heaps themselves, so sifting compares adjacent memory and touches an entry only to
/// record its new position.
#[derive(Clone, Copy)]
struct Node {
    key: (u64, u64),
    slot: u32,
}

const DEADLINE: usize = 0;
const HARD: usize = 1;

pub(super) struct TimerHeap<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    /// `[by_deadline, by_hard]`: binary min-heaps of `(instant, seq)`.
    heaps: [Vec<Node>; 2],
}

impl<T> TimerHeap<T> {
    pub(super) const fn new() -> TimerHeap<T> {
        TimerHeap { entries: Vec::new(), free: Vec::new(), heaps: [Vec::new(), Vec::new()] }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heaps[DEADLINE].len()
    }

    /// The earliest hard deadline.
    pub(super) fn min_hard(&self) -> Option<u64> {
        self.heaps[HARD].first().map(|n| n.key.0)
    }

    /// The earliest deadline.
    #[cfg(test)]
    fn min_deadline(&self) -> Option<u64> {
        self.heaps[DEADLINE].first().map(|n| n.key.0)
    }

    pub(super) fn insert(&mut self, deadline: u64, hard: u64, seq: u64, value: T) -> Handle {
        let entry = Entry { seq, at: [0; 2], value: Some(value) };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                u32::try_from(self.entries.len() - 1).expect("fewer than 2^32 timers")
            }
        };
        self.heaps[DEADLINE].push(Node { key: (deadline, seq), slot });
        self.sift_up::<DEADLINE>(self.heaps[DEADLINE].len() - 1);
        self.heaps[HARD].push(Node { key: (hard, seq), slot });
        self.sift_up::<HARD>(self.heaps[HARD].len() - 1);
        Handle { slot, seq }
    }

    /// Removes the entry `h` names, if it is still there.
    pub(super) fn remove(&mut self, h: Handle) -> Option<T> {
        let e = self.entries.get(h.slot as usize)?;
        if e.value.is_none() || e.seq != h.seq {
            return None;
        }
        Some(self.take(h.slot))
    }

    /// Removes and returns the entry with the earliest deadline, if that is at or before
    /// `now`.
    pub(super) fn pop_due(&mut self, now: u64) -> Option<(u64, T)> {
        let first = *self.heaps[DEADLINE].first()?;
        (first.key.0 <= now).then(|| (first.key.0, self.take(first.slot)))
    }

    /// Gives up every entry without dropping its value (`fork` child: see `heaps.rs`).
    pub(super) fn forget(&mut self) {
        for e in self.entries.drain(..) {
            core::mem::forget(e.value);
        }
        self.free.clear();
        self.heaps = [Vec::new(), Vec::new()];
    }

    fn take(&mut self, slot: u32) -> T {
        self.unlink::<DEADLINE>(slot);
        self.unlink::<HARD>(slot);
        self.free.push(slot);
        self.entries[slot as usize].value.take().expect("a live entry has its value")
    }

    /// Takes `slot` out of heap `W`: the last node fills its hole, then moves up or down.
    fn unlink<const W: usize>(&mut self, slot: u32) {
        let pos = self.entries[slot as usize].at[W] as usize;
        let last = self.heaps[W].pop().expect("an entry is in both heaps");
        if pos < self.heaps[W].len() {
            self.heaps[W][pos] = last;
            let pos = self.sift_up::<W>(pos);
            self.sift_down::<W>(pos);
        }
    }

    /// Puts `node` at `pos` of heap `W`, and records the position in its entry.
    #[inline(always)]
    fn place<const W: usize>(&mut self, pos: usize, node: Node) {
        self.heaps[W][pos] = node;
        self.entries[node.slot as usize].at[W] = pos as u32;
    }

    /// Moves the node at `pos` of heap `W` up to its place; returns where it ended.
    fn sift_up<const W: usize>(&mut self, mut pos: usize) -> usize {
        let node = self.heaps[W][pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.heaps[W][parent];
            if p.key <= node.key {
                break;
            }
            self.place::<W>(pos, p);
            pos = parent;
        }
        self.place::<W>(pos, node);
        pos
    }

    /// Moves the node at `pos` of heap `W` down to its place.
    fn sift_down<const W: usize>(&mut self, mut pos: usize) {
        let len = self.heaps[W].len();
        let node = self.heaps[W][pos];
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let heap = &self.heaps[W];
            let (mut child, mut c) = (left, heap[left]);
            if left + 1 < len && heap[left + 1].key < c.key {
                child = left + 1;
                c = heap[child];
            }
            if node.key <= c.key {
                break;
            }
            self.place::<W>(pos, c);
            pos = child;
        }
        self.place::<W>(pos, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts, removals (live and stale handles) and pops against a model of two
    /// ordered maps: the same entries come out in the same order, and the minima agree.
    #[test]
    fn agrees_with_ordered_maps() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut heap = TimerHeap::new();
        let mut by_deadline: BTreeMap<(u64, u64), (u64, u64)> = BTreeMap::new();
        let mut by_hard: BTreeMap<(u64, u64), ()> = BTreeMap::new();
        let mut handles: Vec<(Handle, u64, u64)> = Vec::new();
        let mut seq = 0;
        let mut now = 0;
        for _ in 0..20_000 {
            match next() % 4 {
                0 | 1 => {
                    seq += 1;
                    let deadline = now + next() % 1000;
                    let hard = deadline + next() % 50;
                    let h = heap.insert(deadline, hard, seq, seq);
                    by_deadline.insert((deadline, seq), (hard, seq));
                    by_hard.insert((hard, seq), ());
                    handles.push((h, deadline, hard));
                }
                2 if !handles.is_empty() => {
                    let i = (next() % handles.len() as u64) as usize;
                    let (h, deadline, hard) = handles.swap_remove(i);
                    let want = by_deadline.remove(&(deadline, h.seq)).map(|(_, v)| v);
                    if want.is_some() {
                        by_hard.remove(&(hard, h.seq));
                    }
                    assert_eq!(heap.remove(h), want, "removal by handle");
                    assert_eq!(heap.remove(h), None, "a second removal finds nothing");
                }
                _ => {
                    now += next() % 300;
                    loop {
                        let want =
                            by_deadline.first_key_value().filter(|(k, _)| k.0 <= now).map(|(k, v)| (*k, *v));
                        let got = heap.pop_due(now);
                        match want {
                            Some(((deadline, s), (hard, v))) => {
                                assert_eq!(got, Some((deadline, v)));
                                by_deadline.remove(&(deadline, s));
                                by_hard.remove(&(hard, s));
                            }
                            None => {
                                assert_eq!(got, None);
                                break;
                            }
                        }
                    }
                }
            }
            assert_eq!(heap.len(), by_deadline.len());
            assert_eq!(heap.min_deadline(), by_deadline.first_key_value().map(|(k, _)| k.0));
            assert_eq!(heap.min_hard(), by_hard.first_key_value().map(|(k, _)| k.0));
        }
    }

    #[test]
    fn equal_deadlines_come_out_in_insertion_order() {
        let mut heap = TimerHeap::new();
        for seq in 1..=50 {
            heap.insert(7, 7, seq, seq);
        }
        let order: Vec<u64> = core::iter::from_fn(|| heap.pop_due(7).map(|(_, v)| v)).collect();
        assert_eq!(order, (1..=50).collect::<Vec<_>>());
    }

    #[test]
    fn a_stale_handle_does_not_remove_the_slots_next_entry() {
        let mut heap = TimerHeap::new();
        let old = heap.insert(5, 5, 1, "old");
        assert_eq!(heap.remove(old), Some("old"));
        let new = heap.insert(6, 6, 2, "new");
        assert_eq!(new.slot, old.slot, "the slot is reused");
        assert_eq!(heap.remove(old), None);
        assert_eq!(heap.pop_due(10), Some((6, "new")));
    }
}
