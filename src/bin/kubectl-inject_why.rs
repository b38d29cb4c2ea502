//! The kubectl plugin `kubectl inject-why`: kubectl finds this binary on PATH by its name.

fn main() {
    meshdoctor::allocator::tune();
    std::process::exit(meshdoctor::cli::plugin_main_with(std::env::args_os()));
}
