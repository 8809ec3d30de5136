//! `uniffi-bindgen`, the version peo-uniffi is built with: `scripts/gen-kotlin.sh` runs it
//! in library mode on `libpeo_uniffi.so` to generate the Kotlin bindings.

fn main() {
    uniffi::uniffi_bindgen_main()
}
