use subinterp::{Interpreter, Runtime, RuntimeConfig};

fn main() {
    let runtime = Runtime::init(RuntimeConfig::default()).unwrap();
    let interp = Interpreter::new(&runtime).unwrap();
    interp
        .with_python(|py| {
            let list = py.eval("[1, 2, 3]")?;
            std::thread::spawn(move || drop(list));
            Ok(())
        })
        .unwrap();
}
