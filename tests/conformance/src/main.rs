//! `peo-conformance`: the ASL corpus runner and the test-vector generator.
//!
//! ```text
//! cargo run --release -p peo-conformance -- asl PATH [--floor FILE] [--verbose]
//! cargo run --release -p peo-conformance -- vectors DIR [--check | --replay]
//! ```

mod asl;
mod normalize;
mod vectors;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  peo-conformance asl PATH [--floor FILE] [--verbose]\n      run the ASL cases in PATH (a folder of <area>.json files, or one file)\n  peo-conformance vectors DIR [--check]\n      write the cross-language test vectors to DIR (--check: fail if DIR differs)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    match args.first().map(String::as_str) {
        Some("asl") => {
            let Some(path) = args.get(1) else { return usage() };
            match asl::run(path.as_ref(), value("--floor").as_deref().map(AsRef::as_ref), flag("--verbose")) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("peo-conformance: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some("vectors") => {
            let Some(dir) = args.get(1) else { return usage() };
            if flag("--replay") {
                return match vectors::replay(dir.as_ref()) {
                    Ok(n) => {
                        println!("vectors: {n} visits replayed, all as expected");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        println!("vectors: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            match vectors::write(dir.as_ref(), flag("--check")) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("peo-conformance: {e}");
                    ExitCode::from(2)
                }
            }
        }
        _ => usage(),
    }
}
