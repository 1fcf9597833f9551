//! The Jupyter kernel's wire frames, before and after the signature check. Frames are split
//! on a marker byte so the fuzzer controls their number and contents.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frames: Vec<Bytes> = data.split(|&b| b == 0xFF).map(Bytes::copy_from_slice).collect();
    let _ = deployclaw::notebook::kernel::wire::Message::decode(frames.clone(), b"key");
    // Unsigned (an empty key): the frames reach the JSON readers whatever the signature is.
    let _ = deployclaw::notebook::kernel::wire::Message::decode(frames, b"");
});
