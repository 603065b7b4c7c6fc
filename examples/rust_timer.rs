// The main queue, a repeating timer source, a custom data source and `dispatch::main()`:
// every handler here runs on the main thread, in order; the last one exits.
// Run: cargo run --release --example rust_timer
use dispatch::{Queue, QueuePriority, Source};
use std::sync::OnceLock;
use std::time::Duration;

/// Sources live as long as they are held; dropping one cancels it.
static TIMER: OnceLock<Source> = OnceLock::new();
static PROGRESS: OnceLock<Source> = OnceLock::new();

fn main() {
    let main_thread = std::thread::current().id();
    let main_queue = Queue::main();

    // Workers report progress through a DATA_ADD source: merges coalesce into sums.
    let mut total = 0;
    let progress = Source::data_add(&main_queue, move |n| {
        assert_eq!(std::thread::current().id(), main_thread);
        total += n;
        println!("progress: {total}/10");
        if total == 10 {
            println!("done");
            std::process::exit(0);
        }
    });
    PROGRESS.set(progress).expect("set once");

    // A timer ticking every 10 ms on the main queue; each tick starts some work.
    let mut ticks = 0;
    let timer = Source::timer(
        &main_queue,
        Duration::ZERO,
        Some(Duration::from_millis(10)),
        Duration::from_millis(1),
        move |fired| {
            assert_eq!(std::thread::current().id(), main_thread);
            ticks += fired;
            println!("tick {ticks}");
            if ticks <= 5 {
                Queue::global(QueuePriority::Default).exec_async(|| {
                    PROGRESS.get().expect("set before the timer").merge_data(2);
                });
            }
        },
    );
    TIMER.set(timer).expect("set once");

    // Runs the main queue on this thread; never returns.
    dispatch::main();
}
