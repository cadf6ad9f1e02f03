#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_auth_fuzz::introspect_response(data));
