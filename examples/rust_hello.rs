// The README's Rust example: a serial queue, a parallel loop, a group and a semaphore.
// Run: cargo run --release --example rust_hello
use dispatch::{Group, Queue, QueueAttribute, QueuePriority, Semaphore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn main() {
    let serial = Queue::create("com.example.log", QueueAttribute::Serial);
    let global = Queue::global(QueuePriority::Default);

    // Parallel loops on the global queue's worker threads: over a range, over a slice.
    let sum = AtomicUsize::new(0);
    global.apply(100, |i| {
        sum.fetch_add(i, Ordering::Relaxed);
    });
    let mut squares: Vec<u64> = (0..8).collect();
    global.for_each(&mut squares, |x| *x *= *x);
    assert_eq!((sum.into_inner(), squares[7]), (4950, 49));

    // Fan out into a group; a serial queue keeps the log in order.
    let log = Arc::new(Mutex::new(Vec::new()));
    let group = Group::new();
    for i in 0..4 {
        let (serial, log) = (serial.clone(), log.clone());
        group.exec_async(&global, move || {
            let square = i * i; // computed in parallel
            serial.exec_async(move || log.lock().unwrap().push(square));
        });
    }
    group.wait();

    // exec_sync returns the closure's value; it runs after everything queued before it.
    let mut logged = serial.exec_sync(|| log.lock().unwrap().clone());
    logged.sort();
    assert_eq!(logged, [0, 1, 4, 9]);

    // A semaphore hands a result back from a worker thread.
    let done = Semaphore::new(0);
    let signal = done.clone();
    global.exec_async(move || {
        signal.signal();
    });
    done.wait();
    println!("logged {logged:?}, squares {squares:?}");
}
