fn main() {
    subinterp_build::link();
}
