//! `keyproof collect` end to end against a local moto server (`moto[server]` from PyPI, which
//! `scripts/setup --test-tools` installs into the project's virtual environment `.venv-test/`;
//! this test runs that environment's Python, never the system's): `collect/tests/moto_setup.py` builds an organization (OUs, accounts, an
//! SCP), IAM users, groups, roles, managed policies and a permissions boundary, KMS keys with
//! policies, a grant and aliases in two regions; the collector runs against the server with
//! the credentials of a read-only IAM user, and the snapshot it writes is loaded with
//! `Snapshot::load` and asked who can decrypt.
//!
//! The setup turns moto's IAM authorization on before the collector runs: the collector's user
//! may assume its role in `app-prod` but not in `locked`, whose AssumeRole is denied as AWS
//! would deny it; `locked` must come out as not collected, and open world in the answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed step panics and says what failed"
)]

use assert_cmd::Command;
use keyproof_model::reference::Reference;
use keyproof_model::Snapshot;
use keyproof_solver::query::Prover;
use keyproof_solver::who_can::who_can;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free port of 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("no free port on 127.0.0.1");
    l.local_addr().unwrap().port()
}

/// The Python of the project's test environment, which `scripts/setup --test-tools` creates with
/// moto and boto3 in it.
fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import moto.server, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ready,
        "{} with moto[server] is missing: this test needs it; run `./scripts/setup --test-tools` \
         (the README's test command does)",
        python.display()
    );
    python
}

fn start_moto() -> Moto {
    let port = free_port().to_string();
    let child = std::process::Command::new(venv_python())
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the moto server ({e}); run `./scripts/setup --test-tools`"));
    let mut moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = moto.child.try_wait() {
            panic!("the moto server exited at start ({status}); run `./scripts/setup --test-tools`");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok() {
            return moto;
        }
        if start.elapsed() > Duration::from_secs(60) {
            panic!("the moto server did not listen on {} within 60 s", moto.url);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the setup script: the organization, and the ids it created.
fn setup(moto: &Moto) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("collect/tests/moto_setup.py");
    let out =
        std::process::Command::new(venv_python()).arg(&script).arg(&moto.url).output().expect("cannot run python");
    assert!(
        out.status.success(),
        "the moto setup failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the setup prints JSON")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keyproof-collect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `keyproof ARGS` with the collector's credentials and nothing else from the environment.
fn keyproof(ids: &Value, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("keyproof")
        .unwrap()
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ids["access_key_id"].as_str().unwrap())
        .env("AWS_SECRET_ACCESS_KEY", ids["secret_access_key"].as_str().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/keyproof-test-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/keyproof-test-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap()
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn collect_from_moto_then_who_can() {
    let moto = start_moto();
    let ids = setup(&moto);
    let s = |k: &str| ids[k].as_str().unwrap().to_string();
    let (mgmt, app, locked) = (s("management"), s("app"), s("locked"));
    let key = |k: &str| ids["keys"][k].as_str().unwrap().to_string();

    let out = scratch("snapshot");
    let out_s = out.to_str().unwrap();
    let run = keyproof(
        &ids,
        &[
            "collect",
            "--out",
            out_s,
            "--regions",
            "us-east-1,us-west-2",
            "--endpoint-url",
            &moto.url,
            "--concurrency",
            "3",
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert_eq!(run.status.code(), Some(1), "an account was not collected: exit 1\n{stderr}");
    assert!(stderr.contains(&format!("not collected (open world): {locked}")), "{stderr}");

    // The layout.
    let org = read(&out.join("organization.json"));
    assert_eq!(org["Organization"]["MasterAccountId"], mgmt.as_str());
    let policies: Vec<&str> =
        org["Policies"].as_array().unwrap().iter().map(|p| p["PolicySummary"]["Id"].as_str().unwrap()).collect();
    assert!(policies.contains(&"p-FullAWSAccess") && policies.contains(&s("scp").as_str()), "{policies:?}");
    let prod = org["Roots"][0]["Children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["OrganizationalUnit"]["Name"] == "Prod")
        .expect("the Prod OU");
    assert!(prod["PolicyIds"].as_array().unwrap().iter().any(|p| p == &ids["scp"]), "the SCP is attached to Prod");
    // The root's policy types as list-roots gives them (issue 9): SCPs are read only when listed.
    let types = org["Roots"][0]["PolicyTypes"].as_array().expect("the root's PolicyTypes");
    assert!(types.iter().any(|t| t["Type"] == "SERVICE_CONTROL_POLICY" && t["Status"] == "ENABLED"), "{types:?}");
    assert_eq!(prod["Children"][0]["Account"]["Id"], app.as_str());
    for account in [&mgmt, &app] {
        assert!(out.join(format!("accounts/{account}/iam.json")).is_file(), "iam.json of {account}");
    }
    let reason = read(&out.join(format!("accounts/{locked}/not-collected.json")));
    assert!(reason["Reason"].as_str().unwrap().contains("AccessDenied"), "{reason}");
    let k1 = read(&out.join(format!("accounts/{mgmt}/kms/us-east-1/{}.json", key("app"))));
    assert_eq!(k1["Aliases"][0]["AliasName"], "alias/app-key");
    assert_eq!(k1["Grants"][0]["GranteePrincipal"], format!("arn:aws:iam::{mgmt}:role/GrantRole").as_str());
    assert_eq!(k1["KeyRotationEnabled"], true);
    assert_eq!(k1["Tags"][0]["TagKey"], "team");
    assert!(k1["Policy"].is_string(), "the key policy is the policy string");
    assert!(out.join(format!("accounts/{mgmt}/kms/us-west-2/{}.json", key("west"))).is_file());
    assert!(out.join(format!("accounts/{app}/kms/us-west-2/{}.json", key("app_local"))).is_file());
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".keyproof-collect-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary folder is left behind");

    // The snapshot loads, and the verifier reads it.
    let snapshot = Snapshot::load(&out).unwrap_or_else(|e| panic!("the collected snapshot does not load: {e:?}"));
    assert!(snapshot.account(&mgmt).unwrap().collected);
    assert!(snapshot.account(&app).unwrap().collected);
    let locked_account = snapshot.account(&locked).expect("the locked account is in the snapshot");
    assert!(!locked_account.collected, "the locked account is open world");
    assert!(locked_account.not_collected_reason.as_deref().unwrap_or("").contains("AccessDenied"));
    assert!(snapshot.account(&app).unwrap().role("AppRole").unwrap().boundary.is_some(), "the boundary is collected");

    let decrypt = Reference::get().action("kms:Decrypt").unwrap();
    let prover = Prover::new(&snapshot, 10_000, &[]);
    let domain = prover.domain(&[]);
    let app_key = snapshot.key("alias/app-key").unwrap();
    let answer = who_can(&prover, &domain, decrypt, app_key).unwrap();
    let who: Vec<&str> = answer.principals.iter().map(|p| p.principal.as_str()).collect();
    for expected in [
        format!("arn:aws:iam::{mgmt}:user/alice"),
        format!("arn:aws:iam::{mgmt}:role/GrantRole"),
        format!("arn:aws:iam::{app}:role/AppRole"),
    ] {
        assert!(who.contains(&expected.as_str()), "{expected} can decrypt: {who:?}");
    }
    for not_expected in [
        format!("arn:aws:iam::{mgmt}:user/carol"),
        format!("arn:aws:iam::{mgmt}:user/keyproof-collector"),
        format!("arn:aws:iam::{app}:role/OtherRole"),
        format!("arn:aws:iam::{app}:user/bob"),
    ] {
        assert!(!who.contains(&not_expected.as_str()), "{not_expected} cannot decrypt: {who:?}");
    }
    assert!(answer.accounts.contains(&locked), "the locked account is open world: {:?}", answer.accounts);
    assert!(!answer.public);

    // The same through the CLI.
    let run = keyproof(&ids, &["who-can", "kms:Decrypt", "alias/app-key", "--snapshot", out_s, "--format", "json"]);
    let json: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr))
    });
    assert!(json["accounts"].as_array().unwrap().iter().any(|a| a == locked.as_str()), "{json}");
    let run = keyproof(
        &ids,
        &[
            "explain",
            "--principal",
            &format!("arn:aws:iam::{locked}:role/AnyRole"),
            "--action",
            "kms:Decrypt",
            "--key",
            "alias/app-key",
            "--snapshot",
            out_s,
            "--format",
            "json",
        ],
    );
    let json: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr))
    });
    assert_eq!(json["decision"], "unknown", "a principal of the locked account depends on its IAM: {json}");
    assert_eq!(run.status.code(), Some(2));

    // A second run never writes into an existing snapshot.
    let again = keyproof(&ids, &["collect", "--out", out_s, "--regions", "us-east-1", "--endpoint-url", &moto.url]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists and is not empty"));

    // --accounts: the other accounts of the organization are recorded as not selected; --region
    // names the region of the calls and of the keys (over AWS_REGION).
    let only = scratch("only-mgmt");
    let run = keyproof(
        &ids,
        &[
            "collect",
            "--out",
            only.to_str().unwrap(),
            "--accounts",
            &mgmt,
            "--endpoint-url",
            &moto.url,
            "--region",
            "us-west-2",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("regions us-west-2"), "{said}");
    let reason = read(&only.join(format!("accounts/{app}/not-collected.json")));
    assert_eq!(reason["Reason"], "not selected with --accounts");
    Snapshot::load(&only).unwrap_or_else(|e| panic!("{e:?}"));

    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&only);
}

/// `keyproof collect` with nothing from the environment but `vars` (no moto needed).
fn collect_offline(vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, std::time::Duration) {
    let mut cmd = Command::cargo_bin("keyproof").unwrap();
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/keyproof-test-config");
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/keyproof-test-credentials");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = scratch("offline");
    let started = std::time::Instant::now();
    let run = cmd.arg("collect").arg("--out").arg(&out).args(args).output().unwrap();
    let _ = std::fs::remove_dir_all(&out);
    (run.status.code(), String::from_utf8_lossy(&run.stderr).into_owned(), started.elapsed())
}

/// Issue 13, item 6: a refused connection fails at once with the endpoint named, missing
/// credentials are one clear line (not the SDK's debug dump), and an SSO profile is read (its
/// missing login said as such).
#[test]
fn collector_errors_are_one_clear_line_and_fail_fast() {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_str().unwrap();
    // No credentials anywhere.
    let (code, err, _) = collect_offline(&[("HOME", home_s)], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no usable AWS credentials"), "{err}");
    assert!(!err.contains("DispatchFailure") && !err.contains("ConnectorError"), "no debug dump: {err}");

    // A refused connection: no retries, the endpoint named.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let creds = [("HOME", home_s), ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret")];
    let (code, err, took) = collect_offline(&creds, &["--endpoint-url", &url, "--region", "eu-west-1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("cannot reach {url}: Connection refused")), "{err}");
    assert!(!err.contains("DispatchFailure"), "{err}");
    assert!(took < std::time::Duration::from_secs(10), "not retried for {took:?}");

    // An SSO profile (sso-session form) without a cached login.
    let config = home.path().join("config");
    std::fs::write(
        &config,
        "[profile sso-test]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n\
         region = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n\
         sso_region = eu-west-1\n",
    )
    .unwrap();
    let sso = [("HOME", home_s), ("AWS_CONFIG_FILE", config.to_str().unwrap())];
    let (code, err, _) = collect_offline(&sso, &["--profile", "sso-test", "--endpoint-url", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no usable AWS credentials") && err.contains("SSO token"), "{err}");
    assert!(err.contains("aws sso login"), "{err}");
    assert!(!err.contains("cargo feature"), "the SSO provider is built in: {err}");
}
