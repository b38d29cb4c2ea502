//! The `meshdoctor` binary: all behaviour lives in the library.

fn main() {
    meshdoctor::allocator::tune();
    std::process::exit(meshdoctor::cli::main_with(std::env::args_os()));
}
