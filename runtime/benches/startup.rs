//! Interpreter start-up and memory through the runtime, as its users see them (part of
//! `cargo xtask bench`, see README.md; `bench-scripts/startup.py` measures CPython's own part with
//! `_interpreters`):
//!
//! - cold create: `Interpreter::new` with no warm stock, until the interpreter is ready;
//! - create + destroy, cold;
//! - warm take: `Interpreter::new` taking a ready interpreter from the runtime's stock;
//! - idle memory: RSS growth per idle `Interpreter` (its thread included; 50 of them);
//! - leak: RSS after 1,000 create/destroy cycles against RSS after the first 100.
//!
//!     cargo bench -p subinterp --bench startup -- [--home PREFIX] [--json] [--quick]
//!
//! `cargo xtask bench` runs it twice, on the patched build and (with `--home` and
//! `LD_LIBRARY_PATH` pointing at it) on the `--no-patches` build, and prints them side by
//! side. Times are medians.

use std::time::{Duration, Instant};

use subinterp::{Interpreter, Runtime, RuntimeConfig};

struct Args {
    home: Option<String>,
    json: bool,
    quick: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        home: None,
        json: false,
        quick: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--home" => args.home = it.next(),
            "--json" => args.json = true,
            "--quick" => args.quick = true,
            "--bench" => {} // added by `cargo bench`
            other => {
                eprintln!("startup bench: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    args
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4.0
}

/// A new interpreter, once it is ready to run code (`Interpreter::new` returns then).
fn new_interpreter(runtime: &Runtime) -> Interpreter {
    Interpreter::new(runtime).expect("an interpreter starts")
}

fn main() {
    let args = parse_args();
    let (rounds, idle, cycles) = if args.quick {
        (5, 5, 50)
    } else {
        (60, 50, 1000)
    };
    let mut config = RuntimeConfig::default().warm_interpreters(0);
    if let Some(home) = &args.home {
        config = config.home(home);
    }
    let runtime = Runtime::init(config).expect("CPython starts");
    let (version, prefix) = {
        let interp = new_interpreter(&runtime);
        let text = |expr: &str| interp.eval(expr).unwrap().as_str().unwrap().to_owned();
        (
            text("__import__('sys').version.split()[0]"),
            text("__import__('sys').base_prefix"),
        )
    };

    let create = median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let interp = new_interpreter(&runtime);
                let took = started.elapsed();
                drop(interp);
                took
            })
            .collect(),
    );
    let create_destroy = median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                drop(new_interpreter(&runtime));
                started.elapsed()
            })
            .collect(),
    );

    // Warm take: wait for a full stock before each take, so every take finds one ready.
    runtime.set_warm_interpreters(2);
    let warm_take = median(
        (0..rounds)
            .map(|_| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while runtime.warm_interpreters() < 2 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let started = Instant::now();
                let interp = new_interpreter(&runtime);
                let took = started.elapsed();
                drop(interp);
                took
            })
            .collect(),
    );
    runtime.set_warm_interpreters(0);

    let before = rss_kib();
    let kept: Vec<Interpreter> = (0..idle).map(|_| new_interpreter(&runtime)).collect();
    let idle_kib = (rss_kib() - before) / idle as f64;
    drop(kept);

    let mut rss_at_100 = 0.0;
    for i in 1..=cycles {
        drop(new_interpreter(&runtime));
        if i == 100.min(cycles) {
            rss_at_100 = rss_kib();
        }
    }
    let rss_at_end = rss_kib();
    runtime.shutdown().expect("clean shutdown");

    let growth = (rss_at_end / rss_at_100 - 1.0) * 100.0;
    if args.json {
        println!(
            "{{\"python\": \"{version}\", \"prefix\": {prefix:?}, \"create_us\": {:.1}, \
             \"create_destroy_us\": {:.1}, \"warm_take_us\": {:.1}, \"idle_kib\": {idle_kib:.0}, \
             \"cycles\": {cycles}, \"rss_after_100_kib\": {rss_at_100:.0}, \
             \"rss_after_cycles_kib\": {rss_at_end:.0}, \"rss_growth_pct\": {growth:.2}}}",
            micros(create),
            micros(create_destroy),
            micros(warm_take),
        );
    } else {
        println!("CPython {version} ({prefix}): interpreter start-up (medians of {rounds})");
        println!(
            "  cold create, ready to run code  {:>9.1} us",
            micros(create)
        );
        println!(
            "  cold create + destroy           {:>9.1} us",
            micros(create_destroy)
        );
        println!(
            "  take a ready one (warm stock)   {:>9.1} us",
            micros(warm_take)
        );
        println!("  idle memory per interpreter     {idle_kib:>9.0} KiB");
        println!(
            "  RSS after 100 / {cycles} create+destroy  {:.1} / {:.1} MiB ({growth:+.1}%)",
            rss_at_100 / 1024.0,
            rss_at_end / 1024.0
        );
    }
}
