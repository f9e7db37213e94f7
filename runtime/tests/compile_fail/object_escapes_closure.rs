use subinterp::{Interpreter, Runtime, RuntimeConfig};

fn main() {
    let runtime = Runtime::init(RuntimeConfig::default()).unwrap();
    let interp = Interpreter::new(&runtime).unwrap();
    // The result of a job must be `Send + 'static`: an object cannot come out of it.
    let list = interp.with_python(|py| py.eval("[1, 2, 3]")).unwrap();
    drop(list);
}
