use subinterp::{Interpreter, Runtime, RuntimeConfig};

fn main() {
    let runtime = Runtime::init(RuntimeConfig::default()).unwrap();
    let interp = Interpreter::new(&runtime).unwrap();
    interp
        .with_python(|py| {
            std::thread::spawn(move || py.eval("1").map(drop));
            Ok(())
        })
        .unwrap();
}
