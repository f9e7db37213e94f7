//! A program that embeds subinterp: counts primes on two own-GIL interpreters at once and
//! checks the answer on the main interpreter.

use std::time::Instant;

use subinterp::{Channel, Pool, PoolConfig, Runtime, RuntimeConfig, Value};

/// The Python code, compiled into the binary and run in every worker as it starts.
const WORK_PY: &str = include_str!("../python/work.py");

fn main() -> Result<(), subinterp::Error> {
    let runtime = Runtime::init(RuntimeConfig::default())?;
    let pool = Pool::with_config(
        &runtime,
        PoolConfig::default().workers(2).setup(WORK_PY.to_owned()),
    )?;

    // Sixteen slices of the range, taken by the two interpreters in parallel.
    let limit = 400_000i64;
    let slices: Vec<(i64, i64)> = (0..16)
        .map(|i| (i * limit / 16, (i + 1) * limit / 16))
        .collect();
    let started = Instant::now();
    let cpu_before = cpu_time();
    let counts = pool.map(
        "__main__:count_primes",
        slices.iter().map(|&(lo, hi)| vec![lo.into(), hi.into()]),
    )?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu_before;
    let total: i64 = counts.iter().filter_map(Value::as_i64).sum();
    println!(
        "primes below {limit}: {total} (2 interpreters, CPU/wall {:.2})",
        cpu / wall
    );

    // A channel between Rust and an interpreter.
    let ch = Channel::new(4);
    for i in 1..=3i64 {
        ch.send(i).expect("the channel is open");
    }
    ch.close();
    let task = runtime.go("builtins:sum", vec![ch.clone().into()]);
    println!("sum over a channel: {:?}", task.wait()?);

    // Where Python came from: the build's prefix, or the bundle's own copy.
    let home = runtime.with_main(|py| py.eval("__import__('sys').prefix")?.str())??;
    println!("python home: {home}");
    println!("libpython: {}", libpython_path().unwrap_or_default());

    drop(pool);
    runtime.shutdown()
}

/// The file libpython was loaded from.
fn libpython_path() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    // The path is the rest of the line from its first '/' (it may contain spaces).
    maps.lines()
        .filter_map(|line| line.find('/').map(|at| &line[at..]))
        .find(|path| path.contains("libpython"))
        .map(str::to_owned)
}

/// CPU time of the whole process so far, in seconds.
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}
