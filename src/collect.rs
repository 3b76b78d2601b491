//! `keyproof collect --out DIR`: a snapshot through the AWS APIs (the `keyproof-collect` crate),
//! with a progress bar on a terminal and plain progress lines otherwise.

use crate::err::CliError;
use clap::Args;
use keyproof_collect::{Event, Options, Progress, Regions};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The snapshot folder to create (it must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The AWS profile to run as (default: the environment's credentials). SSO profiles work
    /// after `aws sso login --profile NAME`.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// The region of the API calls (Organizations, IAM, STS), and the one whose keys are
    /// collected without --regions. Default: the profile's or AWS_REGION, else us-east-1.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// The regions whose keys are collected, comma-separated. Default: --region, else the
    /// profile's region.
    #[arg(long, value_name = "REGIONS", value_delimiter = ',', conflicts_with = "all_regions")]
    pub regions: Vec<String>,

    /// Collect every commercial region (regions an account has not enabled are skipped).
    #[arg(long)]
    pub all_regions: bool,

    /// Collect only these accounts (comma-separated); the organization's other accounts are
    /// recorded as not collected.
    #[arg(long, value_name = "ACCOUNTS", value_delimiter = ',')]
    pub accounts: Vec<String>,

    /// The read-only role assumed in every account other than the caller's.
    #[arg(long, value_name = "ROLE", default_value = keyproof_collect::DEFAULT_ROLE_NAME)]
    pub role_name: String,

    /// Send every AWS call to this endpoint (a local test server such as moto).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// How many accounts and regions are read at the same time.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

/// Progress on stderr: an indicatif bar on a terminal, one line per step otherwise.
struct Report {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress for Report {
    fn event(&self, event: Event) {
        if crate::output::quiet() {
            return;
        }
        match (&self.bar, event) {
            (Some(bar), Event::Planned { steps }) => bar.set_length(steps),
            (None, Event::Planned { steps }) => eprintln!("collect: {steps} steps"),
            (Some(bar), Event::Step { what }) => {
                bar.set_message(what);
                bar.inc(1);
            }
            (None, Event::Step { what }) => eprintln!("collect: done {what}"),
            (Some(bar), Event::NotCollected { account, reason }) => {
                bar.println(format!("not collected: {account}: {reason}"))
            }
            (None, Event::NotCollected { account, reason }) => eprintln!("collect: not collected: {account}: {reason}"),
        }
    }
}

pub fn run(args: &CollectArgs) -> Result<i32, CliError> {
    let mut opts = Options::new(args.out.clone());
    opts.profile = args.profile.clone();
    opts.regions = if args.all_regions {
        Regions::All
    } else if args.regions.is_empty() {
        Regions::Default
    } else {
        Regions::List(args.regions.clone())
    };
    opts.accounts = (!args.accounts.is_empty()).then(|| args.accounts.clone());
    opts.role_name = args.role_name.clone();
    opts.endpoint_url = args.endpoint_url.clone();
    opts.region = args.region.clone();
    opts.concurrency = args.concurrency;
    let bar = (std::io::stderr().is_terminal() && !crate::output::quiet()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        bar
    });
    let report = Report { bar };
    let summary = keyproof_collect::run(&opts, &report);
    if let Some(bar) = &report.bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    let mut text = format!(
        "snapshot written to {}: {} account(s) collected, {} key(s), regions {}",
        args.out.display(),
        summary.accounts.len(),
        summary.keys,
        summary.regions.join(",")
    );
    if let Some(org) = &summary.organization {
        text.push_str(&format!(", organization {org}"));
    }
    text.push('\n');
    for (account, reason) in &summary.not_collected {
        text.push_str(&format!("not collected (open world): {account}: {reason}\n"));
    }
    for note in &summary.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    eprint!("{text}");
    let failed = summary.not_collected.iter().any(|(_, reason)| reason != keyproof_collect::NOT_SELECTED);
    Ok(if failed { 1 } else { 0 })
}
