#!/usr/bin/env bash
# The shell steps of action.yml, here so that a test (tests/lint.rs,
# the_action_runs_each_command_once_with_every_output) runs exactly what the Action runs.
#
#   scripts/action.sh cache-key   key=… for actions/cache: the tool's version and a hash of its
#                                 sources (files of the action path that exist), to $GITHUB_OUTPUT
#   scripts/action.sh run         runs keyproof once: text to the log, SARIF to $KP_SARIF, the
#                                 Markdown report to the job summary; exit-code=… to $GITHUB_OUTPUT
#
# `run` reads KP_COMMAND (diff|check|lint), KP_SNAPSHOT, KP_AFTER, KP_PLAN, KP_PLAN_ACCOUNT,
# KP_PROPERTIES, KP_ARGS, KP_SARIF, KP_MARKDOWN (optional file) and KP_SUMMARY (true|false).
set -u

case "${1:-}" in
  cache-key)
    root="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
    # Every source file of the tool that exists in the action path (not target/, not tests).
    hash=$(cd "$root" && find Cargo.toml Cargo.lock build.rs src parser model solver rules collect corpus/central-kms \
             -type f \( -name '*.rs' -o -name '*.toml' -o -name '*.lock' -o -name '*.json' -o -name '*.pest' -o -name '*.kp' \) \
             -not -path '*/tests/*' -not -path '*/target/*' 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -c1-16)
    echo "key=keyproof-${RUNNER_OS:-$(uname -s)}-v${version}-${hash}" >> "${GITHUB_OUTPUT:-/dev/stdout}"
    echo "restore=keyproof-${RUNNER_OS:-$(uname -s)}-v${version}-" >> "${GITHUB_OUTPUT:-/dev/stdout}"
    ;;
  run)
    cmd=(keyproof --color never "$KP_COMMAND")
    case "$KP_COMMAND" in
      diff)  cmd+=("$KP_SNAPSHOT"); [ -n "${KP_AFTER:-}" ] && cmd+=("$KP_AFTER") ;;
      check) cmd+=("${KP_PROPERTIES:-}" --snapshot "$KP_SNAPSHOT") ;;
      lint)  cmd+=(--snapshot "$KP_SNAPSHOT") ;;
      *) echo "::error::unknown command '$KP_COMMAND' (expected diff, check or lint)"; exit 2 ;;
    esac
    [ -n "${KP_PLAN:-}" ] && cmd+=(--plan "$KP_PLAN")
    [ -n "${KP_PLAN_ACCOUNT:-}" ] && cmd+=(--plan-account "$KP_PLAN_ACCOUNT")
    # shellcheck disable=SC2206 # extra arguments are split on purpose
    [ -n "${KP_ARGS:-}" ] && cmd+=($KP_ARGS)
    cmd+=(--sarif "$KP_SARIF")
    [ -n "${KP_MARKDOWN:-}" ] && cmd+=(--markdown "$KP_MARKDOWN")
    # keyproof appends its Markdown report to $GITHUB_STEP_SUMMARY when that is set.
    [ "${KP_SUMMARY:-true}" = "true" ] || unset GITHUB_STEP_SUMMARY
    echo "::group::${cmd[*]}"
    # One run: the text report goes to the log, SARIF to the file, errors to the log (and into
    # the SARIF as a tool execution notification).
    "${cmd[@]}"
    code=$?
    echo "::endgroup::"
    echo "exit-code=$code" >> "$GITHUB_OUTPUT"
    case $code in
      0) echo "keyproof $KP_COMMAND: nothing found" ;;
      1) echo "::error::keyproof $KP_COMMAND found a change of access, a violation or a finding (exit code 1); see the log above and the code scanning alerts" ;;
      *) echo "::error::keyproof $KP_COMMAND could not decide everything or met an error (exit code $code); see the log above" ;;
    esac
    ;;
  *)
    echo "usage: $0 cache-key|run" >&2
    exit 2
    ;;
esac
