//! The command line: one declarative table of commands and flags, each with its help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keyproof",
    version,
    about = "A formal verifier for AWS KMS access across an AWS Organization",
    long_about = "keyproof reads an organization's KMS setup (key policies, grants, SCPs, RCPs, IAM policies, the OU tree) \
                  and decides who can use which key, with proofs and concrete counterexamples.\n\n\
                  Exit codes: 0 = allowed / proved / no finding; 1 = denied / violated / a finding; 2 = an error or an unknown result."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to draw with colour, decided for stdout and stderr separately: `auto` on a
    /// terminal unless NO_COLOR is set to a non-empty value.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = crate::output::ColorChoice::Auto)]
    pub color: crate::output::ColorChoice,

    /// No progress and no notes on stderr; answers and errors are still printed.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A tour on the embedded demo organization: one request explained, who can decrypt with
    /// the prod S3 key, and the demo properties checked.
    Demo,

    /// Decide one concrete request, layer by layer, like a policy simulator.
    ///
    /// Exit code 0 when the request is allowed, 1 when it is denied, 2 when the answer is unknown
    /// (it depends on something the snapshot does not hold) or on an error.
    Explain(ExplainArgs),

    /// Decide every property of a properties file over every principal and key it quantifies:
    /// proved, violated (with a counterexample replayed through the evaluator), vacuous or
    /// unknown (with the reason).
    ///
    /// Exit code 0 when every property is proved (or vacuous), 1 when one is violated, 2 on an
    /// unknown result or an error.
    Check(CheckArgs),

    /// List every principal that can perform an action on a key, with the context it needs and
    /// the statements or grants that allow it; the accounts outside the snapshot the key is
    /// delegated to; and whether any AWS principal can use it.
    WhoCan(WhoCanArgs),

    /// The reverse of who-can: every key a principal can use, with which actions (default: every
    /// action on keys), the context each needs and the statements or grants that allow it.
    ///
    /// Exit code 0 when every question was decided, 2 when one was not or on an error.
    Can(CanArgs),

    /// Run the built-in rules (KP001…KP018) on a snapshot: findings with severity, the key, the
    /// replayed request that shows them, and their place in the policy text.
    ///
    /// Exit code 0 when no finding is at or above --fail-on, 1 when one is, 2 when a question
    /// was undetermined or on an error.
    Lint(crate::lint::LintArgs),

    /// List the built-in rules: code, default severity, name, summary.
    Rules(crate::lint::RulesArgs),

    /// Print the documentation of one rule (`keyproof rule KP004`).
    Rule(crate::lint::RuleArgs),

    /// Every access that AFTER allows and BEFORE does not (and every access removed), per
    /// principal, action and key, found symbolically over every request context and grouped
    /// into classes, each with an example request replayed through the evaluator on both sides.
    ///
    /// `keyproof diff SNAPSHOT --plan plan.json` compares a snapshot with itself after the plan.
    /// Exit code 0 when no access is added, 1 when some is (or removed, with --fail-on-removed),
    /// 2 on an unknown result or an error.
    Diff(crate::diff::DiffArgs),

    /// Snapshot an organization through the AWS APIs, read-only: the organization tree with its
    /// SCPs and RCPs, every account's IAM (assuming --role-name in member accounts) and every
    /// KMS key with its policy, grants, aliases, rotation and tags, in the snapshot layout.
    ///
    /// An account that cannot be collected is recorded in `accounts/<id>/not-collected.json`
    /// and treated as open world. The snapshot is written to a temporary folder and moved to
    /// --out when complete. Exit code 0 when every account was collected, 1 when some were not,
    /// 2 on an error.
    Collect(crate::collect::CollectArgs),

    /// Print the settings a command would run with (keyproof.toml, found as `lint` finds it),
    /// each with where it came from: a flag, the file, or the default.
    Config(crate::config::ConfigCommandArgs),

    /// Print a shell completion script (`keyproof completions bash > /etc/bash_completion.d/keyproof`).
    Completions(CompletionsArgs),

    /// Print the manual page (roff), e.g. `keyproof man > keyproof.1 && man ./keyproof.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The properties file (see docs/properties.md).
    #[arg(value_name = "PROPERTIES.kp")]
    pub properties: PathBuf,

    /// The snapshot folder. Default: the one keyproof.toml names (the first from the current
    /// folder up), else the embedded demo organization corpus/central-kms.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Time limit of one solver query, in milliseconds; a query that runs out gives `unknown`.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u32,

    /// Decide only the keys of shard I of N (a stable partition by key ARN), so that N jobs
    /// share an organization; the shards' answers together are the whole answer. A property
    /// without a key variable is decided whole in one shard.
    #[arg(long, value_name = "I/N", value_parser = keyproof_solver::check::Shard::parse)]
    pub shard: Option<keyproof_solver::check::Shard>,

    /// The longest path `can_reach` follows; a search cut short makes its instances `unknown`.
    #[arg(long, value_name = "N", default_value_t = keyproof_solver::check::DEFAULT_MAX_HOPS)]
    pub max_hops: usize,

    #[command(flatten)]
    pub plan: crate::plan::PlanArgs,

    #[command(flatten)]
    pub outputs: crate::report::OutputFiles,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct WhoCanArgs {
    /// The KMS action, e.g. kms:Decrypt, or a pattern of actions on keys (kms:*, kms:Generate*,
    /// kms:Re*): one answer per action.
    #[arg(value_name = "ACTION")]
    pub action: String,

    /// The key: ARN, key id, mrk- id, alias (alias/name) or alias ARN.
    #[arg(value_name = "KEY")]
    pub key: String,

    /// Time limit of one solver query, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u32,

    /// Report only the principals of this account (id or name).
    #[arg(long, value_name = "ACCOUNT", conflicts_with = "transitive")]
    pub account: Option<String>,

    /// Report only the principals of the accounts in this OU or below it (id, or name path such
    /// as Workloads/Prod, as properties take).
    #[arg(long, value_name = "OU", conflicts_with = "transitive")]
    pub ou: Option<String>,

    /// Report only principals of this kind.
    #[arg(long, value_enum, value_name = "KIND", conflicts_with = "transitive")]
    pub kind: Option<PrincipalKindArg>,

    /// Also every principal that can get there: by assuming roles, creating a grant, rewriting
    /// the key policy or writing IAM policies, each with its shortest path.
    #[arg(long)]
    pub transitive: bool,

    /// With --transitive: the longest path followed. A search cut short is `unknown` (exit 2).
    #[arg(long, value_name = "N", default_value_t = 4, requires = "transitive")]
    pub max_hops: usize,

    /// Also write the JSON answer to FILE, from the same run.
    #[arg(long, value_name = "FILE", conflicts_with = "transitive")]
    pub json: Option<PathBuf>,

    /// Also write a Markdown table of the answer to FILE, from the same run; with this flag the
    /// table is appended to $GITHUB_STEP_SUMMARY as well when that is set (without it, who-can
    /// leaves the job summary alone).
    #[arg(long, value_name = "FILE", conflicts_with = "transitive")]
    pub markdown: Option<PathBuf>,

    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// The kinds of principal `who-can --kind` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrincipalKindArg {
    /// Roles and role sessions.
    Role,
    /// IAM users.
    User,
    /// Accounts' root users.
    Root,
    /// AWS service principals.
    Service,
    /// Any principal of an account outside the snapshot (or of any other account).
    Account,
    /// Federated-user sessions (GetFederationToken).
    FederatedUser,
}

impl From<PrincipalKindArg> for keyproof_solver::who_can::PrincipalKind {
    fn from(k: PrincipalKindArg) -> Self {
        use keyproof_solver::who_can::PrincipalKind as K;
        match k {
            PrincipalKindArg::Role => K::Role,
            PrincipalKindArg::User => K::User,
            PrincipalKindArg::Root => K::Root,
            PrincipalKindArg::Service => K::Service,
            PrincipalKindArg::Account => K::Account,
            PrincipalKindArg::FederatedUser => K::FederatedUser,
        }
    }
}

#[derive(Debug, Args)]
pub struct CanArgs {
    /// The principal: an IAM ARN (role, user, root), a role session, a federated user or a
    /// service principal, as `explain --principal` takes.
    #[arg(value_name = "PRINCIPAL")]
    pub principal: String,

    /// A KMS action or a pattern of actions on keys (kms:Generate*). Default: every action on keys.
    #[arg(value_name = "ACTION")]
    pub action: Option<String>,

    /// Only this key (ARN, key id, mrk- id, alias or alias ARN). Default: every key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Time limit of one solver query, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u32,

    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// Graphviz DOT (only `who-can --transitive`).
    Dot,
    /// A Mermaid flowchart (only `who-can --transitive`).
    Mermaid,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot folder (organization.json, accounts/<id>/…). Default: the one keyproof.toml
    /// names (the first from the current folder up), else the embedded demo organization
    /// corpus/central-kms.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    #[command(flatten)]
    pub plan: crate::plan::PlanArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The caller: an IAM ARN (role, user, root), a role session
    /// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), a federated user, a service principal
    /// (s3.amazonaws.com) or `anonymous`.
    #[arg(long, value_name = "ARN")]
    pub principal: String,

    /// The KMS action, e.g. kms:Decrypt.
    #[arg(long, value_name = "ACTION")]
    pub action: String,

    /// The key: ARN, key id, mrk- id, alias (alias/name) or alias ARN.
    #[arg(long, value_name = "KEY")]
    pub key: String,

    /// A request context value, KEY=VALUE (e.g. kms:ViaService=s3.us-east-1.amazonaws.com,
    /// kms:EncryptionContext:Department=IT). Repeat the same key for a multivalued key.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,

    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// CloudFormation templates overlaid on the snapshot, as stacks or as a service-managed StackSet
/// (flattened into every command's `--plan` flags).
#[derive(Debug, Clone, Default, Args)]
pub struct TemplateArgs {
    /// A CloudFormation template (YAML with the short intrinsic tags, or JSON) to overlay on the
    /// snapshot as a deployed stack, in --template-account and --template-region. Repeatable.
    #[arg(long, value_name = "TEMPLATE.yaml")]
    pub template: Vec<PathBuf>,

    /// The account the templates are deployed to (AWS::AccountId).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub template_account: Option<String>,

    /// The region the templates are deployed to (AWS::Region).
    #[arg(long, value_name = "REGION")]
    pub template_region: Option<String>,

    /// The stack name (AWS::StackName). Default: the template's file name without extension.
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,

    /// The templates' parameter values, in the shapes `aws cloudformation create-stack
    /// --parameters` and `deploy --parameter-overrides` take:
    /// [{"ParameterKey": K, "ParameterValue": V}], ["K=V"] or {"Parameters": {K: V}}.
    #[arg(long, value_name = "PARAMETERS.json")]
    pub parameters: Option<PathBuf>,

    /// One parameter value, KEY=VALUE (after --parameters; repeatable).
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameter: Vec<String>,

    /// A template deployed as a service-managed StackSet: one stack instance in every account
    /// under --targets (nested OUs included, the management account excluded), in each of
    /// --regions.
    #[arg(long, value_name = "TEMPLATE.yaml", requires = "targets")]
    pub stackset: Option<PathBuf>,

    /// The StackSet's deployment targets: OU ids (or the root id), comma-separated.
    #[arg(long, value_name = "OU[,OU...]", requires = "stackset")]
    pub targets: Option<String>,

    /// The StackSet's regions, comma-separated. Default: --template-region.
    #[arg(long, value_name = "REGION[,REGION...]", requires = "stackset")]
    pub regions: Option<String>,
}

/// The base side of `keyproof diff` when the change is a set of templates.
#[derive(Debug, Clone, Default, Args)]
pub struct BaseArgs {
    /// A checkout of the base branch: BEFORE is then the snapshot with the templates (and
    /// parameters file) of the same paths as they are in DIR, deployed the same way; a template
    /// that DIR does not have is not deployed before. AFTER is the snapshot with the templates as
    /// given. So `diff` compares main's templates with the pull request's.
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
}
