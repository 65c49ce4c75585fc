#!/usr/bin/env bash
# A custom Lambda runtime in bash + curl: the pattern of AWS's custom-runtime
# tutorial, kept for comparison in the benchmarks. Every invocation costs two
# curl processes (a fresh TCP connection each), a grep pipeline and the handler.
#
# One deliberate change from the tutorial: the event and the answer travel
# through files (curl -o / --data-binary @file) instead of shell variables and
# `-d "$RESPONSE"`, because a command-line argument is capped at 128 KiB on
# Linux and the benchmarks send events of up to 6 MB.
set -euo pipefail

# _HANDLER is FILE.FUNCTION: source FILE.sh from the task root, call FUNCTION.
source "$LAMBDA_TASK_ROOT/${_HANDLER%%.*}.sh"
HANDLER_FUNCTION="${_HANDLER#*.}"

API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

while true; do
  curl -sS -LD "$WORK/headers" -o "$WORK/event" "$API/next"
  REQUEST_ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$WORK/headers" | tr -d '[:space:]' | cut -d: -f2)"
  "$HANDLER_FUNCTION" < "$WORK/event" > "$WORK/response"
  curl -sS -o /dev/null -X POST --data-binary "@$WORK/response" "$API/$REQUEST_ID/response"
done
