#!/usr/bin/env bash
# A custom runtime in bash and curl, the shape of the AWS custom-runtime tutorial.
# It echoes each event back; an event containing "fail" is reported as a function
# error and one containing "crash" makes the runtime exit mid-invocation.
set -euo pipefail

api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
echo "bash runtime up for handler ${_HANDLER:-?}"

while true; do
  event="$(curl -sS -LD "$headers" "$api/invocation/next")"
  request_id="$(grep -Fi 'Lambda-Runtime-Aws-Request-Id:' "$headers" | cut -d: -f2 | tr -d '[:space:]')"
  echo "bash runtime handling $request_id"
  case "$event" in
    *crash*)
      exit 7
      ;;
    *fail*)
      printf '{"errorMessage": "asked to fail", "errorType": "BashError"}' |
        curl -sS -o /dev/null -H 'Content-Type: application/json' \
          -H 'Lambda-Runtime-Function-Error-Type: Function.BashError' \
          --data-binary @- "$api/invocation/$request_id/error"
      ;;
    *)
      printf '%s' "$event" |
        curl -sS -o /dev/null -H 'Content-Type: application/json' \
          --data-binary @- "$api/invocation/$request_id/response"
      ;;
  esac
done
