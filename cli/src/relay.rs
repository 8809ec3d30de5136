//! `peo relay`: the Step Functions relay (docs/step-functions.md) from the command line,
//! the loop of `peo_jetstream::relay` with the AWS SDK for Rust. AWS settings come from
//! the SDK's own chain: `AWS_REGION`, credentials (environment, profile, process),
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SFN`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anstream::println;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use peo_jetstream::Options;
use peo_jetstream::relay::{RelayOptions, ReportError, TaskReporter, relay as run_relay};

use crate::Res;
use crate::nats::{Mesh, connect};

/// The relay's AWS calls, made with one Step Functions client on a small runtime.
struct Sdk {
    rt: tokio::runtime::Runtime,
    sfn: aws_sdk_sfn::Client,
}

fn report<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    r: Result<T, aws_sdk_sfn::error::SdkError<E>>,
) -> Result<(), ReportError> {
    r.map(|_| ()).map_err(|e| {
        let code = e.as_service_error().and_then(|s| s.code()).map(str::to_owned);
        ReportError { code, message: aws_sdk_sfn::error::DisplayErrorContext(&e).to_string() }
    })
}

impl TaskReporter for Sdk {
    fn heartbeat(&self, token: &str) -> Result<(), ReportError> {
        report(self.rt.block_on(self.sfn.send_task_heartbeat().task_token(token).send()))
    }
    fn success(&self, token: &str, output: &str) -> Result<(), ReportError> {
        report(self.rt.block_on(self.sfn.send_task_success().task_token(token).output(output).send()))
    }
    fn failure(&self, token: &str, error: &str, cause: &str) -> Result<(), ReportError> {
        report(self.rt.block_on(self.sfn.send_task_failure().task_token(token).error(error).cause(cause).send()))
    }
    fn upload(&self, _bucket: &str, _key: &str, _bytes: &[u8]) -> Result<(), ReportError> {
        // Never called: `peo relay` gives no bucket, so an output past 256 KiB is
        // reported as a `peo.Limit` failure instead.
        Err(ReportError { code: None, message: "peo relay has no S3 client".into() })
    }
}

pub(crate) fn relay(
    mesh: &Mesh,
    name: &str,
    heartbeat_every: f64,
    idle_exit: Option<f64>,
    trust: &[String],
    quiet: bool,
) -> Res<ExitCode> {
    let trust = relay_trust(trust)?;
    let options_trust_missing = trust.is_none();
    if !(heartbeat_every >= 0.0 && heartbeat_every.is_finite()) {
        return Err("--heartbeat-every must be a number of seconds".into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the AWS client's runtime: {e}"))?;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let config = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https).load());
    if config.region().is_none() {
        return Err("no AWS region: set AWS_REGION (or a profile's region)".into());
    }
    let sdk = Sdk { sfn: aws_sdk_sfn::Client::new(&config), rt };
    let js = connect(mesh, Options { name: Some(format!("peo relay {name}")), ..Options::default() })?;
    println!("relay {name}: reporting objects with task tokens from {} to Step Functions", mesh.nats);
    if options_trust_missing {
        println!(
            "relay {name}: no --trust: a finish signed by any key is reported (see docs/step-functions.md, \"Not guaranteed\")"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let options = RelayOptions {
        name: name.to_owned(),
        heartbeat_every: Duration::from_secs_f64(heartbeat_every),
        idle_timeout: idle_exit.map(Duration::from_secs_f64),
        bucket: None,
        trust,
    };
    let started = Instant::now();
    let log = |line: &str| {
        if !quiet {
            println!("relay {name}: {line}");
        }
    };
    let counts =
        run_relay(&js, &sdk, &options, &mut || Ok(stop.load(Ordering::Relaxed)), &log).map_err(|e| e.to_string())?;
    println!("relay {name}: stopped after {:.1} s: {}", started.elapsed().as_secs_f64(), counts.to_json());
    Ok(ExitCode::SUCCESS)
}

/// `--trust`: keys (64 hex digits or `.pub` files from `peo keygen`), or one trust file
/// as a node's `trust` names it (TOML holding `trust = [...]`, or JSON); none: `None`.
fn relay_trust(specs: &[String]) -> Res<Option<peo_core::Trust>> {
    let specs: Vec<&str> = specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    match specs.as_slice() {
        [] => Ok(None),
        [file] if file.ends_with(".toml") || file.ends_with(".json") => {
            crate::read_trust(&toml::Value::String((*file).to_owned()), std::path::Path::new("."))
                .map(Some)
                .map_err(|e| format!("--trust {file}: {e}"))
        }
        keys => {
            let keys = keys.iter().map(|k| crate::read_public_key(k)).collect::<Res<Vec<_>>>()?;
            Ok(Some(peo_core::Trust::keys(keys)))
        }
    }
}
