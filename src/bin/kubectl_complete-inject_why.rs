//! Completion for `kubectl inject-why`: kubectl (1.26+) runs this binary, found on PATH by its
//! name, with the words after the plugin's name, and reads cobra's `__complete` answer.

fn main() {
    std::process::exit(meshdoctor::cli::completion::plugin_complete_main(
        std::env::args_os(),
    ));
}
