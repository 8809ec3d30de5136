//! Gives libpeo.so its SONAME when `PEO_SONAME` is set: `scripts/dist` sets it
//! (`libpeo.so.0.1` for every 0.1.x release) for the C SDK, whose `lib/` carries the
//! versioned file and its symlinks. A development build has none, so programs linked
//! with `-Ltarget/release -lpeo` find `libpeo.so` itself.
fn main() {
    println!("cargo:rerun-if-env-changed=PEO_SONAME");
    if let Ok(soname) = std::env::var("PEO_SONAME")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
    {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
