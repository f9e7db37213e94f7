use std::cell::Cell;
use std::rc::Rc;

use subinterp::{Interpreter, Runtime, RuntimeConfig, Value};

fn main() {
    let runtime = Runtime::init(RuntimeConfig::default()).unwrap();
    let interp = Interpreter::new(&runtime).unwrap();
    interp
        .with_python(|py| {
            // Python threads of the interpreter may call the function, and drop it, on other
            // OS threads: state that is not thread-safe is refused.
            let calls = Rc::new(Cell::new(0));
            py.function("count", move |_py, _args| {
                calls.set(calls.get() + 1);
                Ok(Value::None)
            })
            .map(drop)
        })
        .unwrap();
}
