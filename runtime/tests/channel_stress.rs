//! Channels under stress between interpreters: several senders and receivers in different
//! interpreters (and a Rust thread), millions of messages, nothing lost or duplicated.

mod common;

use common::runtime;
use subinterp::{Channel, Pool, PoolConfig};

const SETUP: &str = "
def produce(ch, start, count):
    send = ch.send
    for i in range(start, start + count):
        send(i)

def consume(ch):
    # count, sum and a sum of squares mod 2**61-1: a different multiset would not match
    n = total = squares = 0
    for i in ch:
        n += 1
        total += i
        squares = (squares + i * i) % 2305843009213693951
    return (n, total, squares)
";

#[test]
fn millions_of_messages_between_interpreters_arrive_exactly_once() {
    let (producers, consumers, per_producer) = (4i64, 3, 500_000i64);
    let pool = Pool::with_config(
        runtime(),
        PoolConfig::default()
            .workers(producers as usize + consumers)
            .setup(SETUP.to_owned()),
    )
    .unwrap();
    let ch = Channel::new(256);
    let consuming: Vec<_> = (0..consumers)
        .map(|_| pool.submit("__main__:consume", vec![ch.clone().into()]))
        .collect();
    // A Rust thread receives too.
    let rust = {
        let ch = ch.clone();
        std::thread::spawn(move || {
            let (mut n, mut total, mut squares) = (0i64, 0i128, 0i128);
            for value in ch.iter() {
                let i = i128::from(value.as_i64().unwrap());
                n += 1;
                total += i;
                squares = (squares + i * i) % 2305843009213693951;
            }
            (n, total, squares)
        })
    };
    let producing: Vec<_> = (0..producers)
        .map(|k| {
            let args = vec![
                ch.clone().into(),
                (k * per_producer).into(),
                per_producer.into(),
            ];
            pool.submit("__main__:produce", args)
        })
        .collect();
    for task in producing {
        task.wait().unwrap();
    }
    ch.close();
    let mut sums = vec![rust.join().unwrap()];
    for task in consuming {
        let result = task.wait().unwrap();
        let parts: Vec<i128> = result
            .as_tuple()
            .unwrap()
            .iter()
            .map(|v| i128::from(v.as_i64().unwrap()))
            .collect();
        sums.push((parts[0] as i64, parts[1], parts[2]));
    }
    let n = producers * per_producer;
    let count: i64 = sums.iter().map(|s| s.0).sum();
    let total: i128 = sums.iter().map(|s| s.1).sum();
    let squares: i128 = sums.iter().map(|s| s.2).sum::<i128>() % 2305843009213693951;
    let expected_squares = (0..i128::from(n)).map(|i| i * i).sum::<i128>() % 2305843009213693951;
    assert_eq!(count, n, "messages lost or duplicated: {sums:?}");
    assert_eq!(total, i128::from(n) * i128::from(n - 1) / 2);
    assert_eq!(squares, expected_squares);
    assert!(
        sums.iter().filter(|s| s.0 > 0).count() > 1,
        "several receivers took part: {sums:?}"
    );
}
