//! Channels and select from Rust: rendezvous and buffered semantics, close and drain, select
//! fairness and timeouts, and no message lost or duplicated under stress.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use subinterp::{Channel, RecvError, Select, SelectError, Selected, SendErrorKind, Value};

const SHORT: Duration = Duration::from_millis(50);

#[test]
fn a_rendezvous_send_waits_for_a_receiver() {
    let ch = Channel::new(0);
    // Nobody receives: the send cannot complete and hands its value back.
    let err = ch.send_timeout("hello", SHORT).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Timeout);
    assert_eq!(err.value, Value::from("hello"));
    assert_eq!(ch.try_send(1).unwrap_err().kind, SendErrorKind::Full);
    assert_eq!(ch.len(), 0, "a rendezvous channel holds nothing");

    // The sender returns only once the receiver has taken the value.
    let delivered = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (ch, delivered) = (ch.clone(), Arc::clone(&delivered));
        thread::spawn(move || {
            ch.send(42).unwrap();
            delivered.store(1, Ordering::SeqCst);
        })
    };
    thread::sleep(SHORT);
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        0,
        "send returned with no receiver"
    );
    assert_eq!(ch.recv().unwrap(), Value::from(42));
    sender.join().unwrap();
    assert_eq!(delivered.load(Ordering::SeqCst), 1);
}

#[test]
fn a_buffered_channel_blocks_only_when_full() {
    let ch = Channel::new(2);
    ch.try_send(1).unwrap();
    ch.send(2).unwrap();
    assert_eq!((ch.len(), ch.capacity()), (2, 2));
    let full = ch.try_send(3).unwrap_err();
    assert_eq!(
        (full.kind, full.value),
        (SendErrorKind::Full, Value::from(3))
    );
    // A blocked sender moves in as soon as a value leaves.
    let sender = {
        let ch = ch.clone();
        thread::spawn(move || ch.send(3))
    };
    thread::sleep(SHORT);
    assert_eq!(ch.recv().unwrap(), Value::from(1));
    sender.join().unwrap().unwrap();
    assert_eq!(ch.recv().unwrap(), Value::from(2));
    assert_eq!(ch.recv().unwrap(), Value::from(3));
    assert_eq!(ch.try_recv(), Err(RecvError::Empty));
    let started = Instant::now();
    assert_eq!(ch.recv_timeout(SHORT), Err(RecvError::Timeout));
    assert!(started.elapsed() >= SHORT);
}

#[test]
fn close_lets_receivers_drain_and_hands_unsent_values_back() {
    let ch = Channel::new(3);
    for i in 0..3 {
        ch.send(i).unwrap();
    }
    // A sender blocked on the full channel gets its value back when it closes.
    let blocked = {
        let ch = ch.clone();
        thread::spawn(move || ch.send("late"))
    };
    thread::sleep(SHORT);
    assert!(ch.close());
    assert!(!ch.close(), "closing twice is harmless");
    assert!(ch.is_closed());
    let err = blocked.join().unwrap().unwrap_err();
    assert_eq!(
        (err.kind, err.value),
        (SendErrorKind::Closed, Value::from("late"))
    );
    let err = ch.send(9).unwrap_err();
    assert_eq!(
        (err.kind, err.value),
        (SendErrorKind::Closed, Value::from(9))
    );
    let drained: Vec<Value> = ch.iter().collect();
    assert_eq!(
        drained,
        vec![Value::from(0), Value::from(1), Value::from(2)]
    );
    assert_eq!(ch.recv(), Err(RecvError::Closed));
    assert_eq!(ch.try_recv(), Err(RecvError::Closed));

    // Receivers blocked on an empty channel wake up when it closes.
    let empty = Channel::new(0);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let ch = empty.clone();
            thread::spawn(move || ch.recv())
        })
        .collect();
    thread::sleep(SHORT);
    empty.close();
    for r in receivers {
        assert_eq!(r.join().unwrap(), Err(RecvError::Closed));
    }
}

#[test]
fn values_from_one_sender_arrive_in_order() {
    let ch = Channel::new(8);
    let senders: Vec<_> = (0..4i64)
        .map(|id| {
            let ch = ch.clone();
            thread::spawn(move || {
                for seq in 0..5_000i64 {
                    ch.send(Value::Tuple(vec![id.into(), seq.into()])).unwrap();
                }
            })
        })
        .collect();
    let mut next = HashMap::new();
    for _ in 0..20_000 {
        let item = ch.recv().unwrap();
        let item = item.as_tuple().unwrap();
        let (id, seq) = (item[0].as_i64().unwrap(), item[1].as_i64().unwrap());
        let expected = next.entry(id).or_insert(0);
        assert_eq!(seq, *expected, "sender {id} out of order");
        *expected += 1;
    }
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn select_takes_a_ready_case_and_is_fair() {
    let (a, b) = (Channel::new(10_000), Channel::new(10_000));
    for i in 0..5_000 {
        a.send(i).unwrap();
        b.send(i).unwrap();
    }
    let mut counts = [0usize; 2];
    for _ in 0..5_000 {
        let mut select = Select::new();
        select.recv(&a);
        select.recv(&b);
        match select.wait().unwrap() {
            Selected::Received { index, .. } => counts[index] += 1,
            other => panic!("{other:?}"),
        }
    }
    // Both always ready: each chosen about half the time (p of a 45/55 split ~ 1e-12).
    assert!(
        counts.iter().all(|&c| c > 2_250),
        "unfair select: {counts:?}"
    );
}

#[test]
fn select_times_out_and_offers_nothing_when_not_ready() {
    let (a, b) = (Channel::new(0), Channel::new(1));
    let mut select = Select::new();
    select.recv(&a);
    select.recv(&b);
    assert_eq!(select.try_wait(), Err(SelectError::WouldBlock));
    let mut select = Select::new();
    select.recv(&a);
    select.send(&a, 1); // No receiver waits on a rendezvous channel: not ready either.
    let started = Instant::now();
    assert_eq!(select.wait_timeout(SHORT), Err(SelectError::Timeout));
    assert!(started.elapsed() >= SHORT);
    // Nothing was left behind by the abandoned select.
    assert_eq!(a.try_recv(), Err(RecvError::Empty));
    assert_eq!(a.try_send(5).unwrap_err().kind, SendErrorKind::Full);
}

#[test]
fn select_sends_to_a_waiting_receiver_and_reports_closed_channels() {
    let out = Channel::new(0);
    let receiver = {
        let out = out.clone();
        thread::spawn(move || out.recv())
    };
    thread::sleep(SHORT);
    let idle = Channel::new(0);
    let mut select = Select::new();
    select.recv(&idle);
    let send = select.send(&out, "x");
    assert_eq!(select.wait(), Ok(Selected::Sent { index: send }));
    assert_eq!(receiver.join().unwrap(), Ok(Value::from("x")));

    idle.close();
    let mut select = Select::new();
    select.recv(&idle);
    assert_eq!(select.wait(), Ok(Selected::Closed { index: 0 }));
    let mut select = Select::new();
    select.send(&idle, 7);
    assert_eq!(
        select.wait(),
        Err(SelectError::SendClosed {
            index: 0,
            value: Value::from(7)
        })
    );
}

#[test]
fn a_blocked_select_completes_exactly_one_case() {
    // Two selects race for each sent value over two channels: every value is received once.
    let (a, b) = (Channel::new(0), Channel::new(0));
    let done = Channel::new(1024);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let (a, b, done) = (a.clone(), b.clone(), done.clone());
            thread::spawn(move || {
                loop {
                    let mut select = Select::new();
                    select.recv(&a);
                    select.recv(&b);
                    match select.wait().unwrap() {
                        Selected::Received { value, .. } => done.send(value).unwrap(),
                        Selected::Closed { .. } => return,
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let total = 20_000i64;
    let senders: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, ch)| {
            thread::spawn(move || {
                for i in 0..total / 2 {
                    ch.send(i * 2 + k as i64).unwrap();
                }
            })
        })
        .collect();
    let mut seen = vec![false; total as usize];
    for _ in 0..total {
        let i = done.recv().unwrap().as_i64().unwrap() as usize;
        assert!(!seen[i], "{i} received twice");
        seen[i] = true;
    }
    for s in senders {
        s.join().unwrap();
    }
    a.close();
    b.close();
    for r in receivers {
        r.join().unwrap();
    }
    assert_eq!(done.try_recv(), Err(RecvError::Empty), "more than sent");
}

#[test]
fn a_channel_travels_over_a_channel() {
    let carrier = Channel::new(1);
    let inner = Channel::new(1);
    carrier.send(&inner).unwrap();
    let Value::Channel(got) = carrier.recv().unwrap() else {
        panic!("not a channel");
    };
    assert!(got.same(&inner));
    assert_eq!(Value::from(&got), Value::Channel(inner.clone()));
    got.send("through the copy").unwrap();
    assert_eq!(inner.recv().unwrap(), Value::from("through the copy"));
}

/// Regression: `close` used to dequeue blocked senders, unlock, and only then complete them.
/// A sender whose timeout ended in that window lost its value (`Value::None` came back).
#[test]
fn close_racing_a_timed_out_send_never_loses_the_value() {
    for round in 0..2_000i64 {
        let ch = Channel::new(0);
        let closer = {
            let ch = ch.clone();
            thread::spawn(move || {
                // Spread the close over the sender's short wait.
                for _ in 0..(round % 50) {
                    std::hint::spin_loop();
                }
                ch.close();
            })
        };
        match ch.send_timeout(round, Duration::from_micros(round as u64 % 40)) {
            Ok(()) => panic!("nobody received, yet round {round} sent"),
            Err(e) => {
                assert!(
                    matches!(e.kind, SendErrorKind::Timeout | SendErrorKind::Closed),
                    "{e:?}"
                );
                assert_eq!(
                    e.value,
                    Value::from(round),
                    "round {round}: the value was lost"
                );
            }
        }
        closer.join().unwrap();
    }
}

/// Regression: an infinite or huge timeout overflowed `Instant` and panicked; it now waits
/// without a deadline.
#[test]
fn huge_timeouts_wait_forever_instead_of_panicking() {
    let ch = Channel::new(0);
    let sender = {
        let ch = ch.clone();
        thread::spawn(move || ch.send_timeout(7, Duration::MAX))
    };
    assert_eq!(ch.recv_timeout(Duration::MAX).unwrap(), Value::from(7));
    sender.join().unwrap().unwrap();

    let (a, b) = (Channel::new(1), Channel::new(1));
    b.send(1).unwrap();
    let mut select = Select::new();
    select.recv(&a);
    select.recv(&b);
    assert!(matches!(
        select.wait_timeout(Duration::MAX),
        Ok(Selected::Received { index: 1, .. })
    ));
}
