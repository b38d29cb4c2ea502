#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshdoctor::fuzzing::webhook_match(data));
